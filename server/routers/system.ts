import { publicProcedure, router } from '../trpc/init';

export const systemRouter = router({
  health: publicProcedure.query(({ ctx }) => ctx.app.health()),
});
