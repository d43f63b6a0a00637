import { router } from '../trpc/init';
import { adminRouter } from './admin';
import { analysisRouter } from './analysis';
import { chatRouter } from './chat';
import { investigationRouter } from './investigation';
import { notificationRouter } from './notification';
import { presenceRouter } from './presence';
import { systemRouter } from './system';

/** The contract: every procedure of the README's "The procedures", one router per domain. */
export const appRouter = router({
  investigation: investigationRouter,
  analysis: analysisRouter,
  chat: chatRouter,
  notification: notificationRouter,
  system: systemRouter,
  presence: presenceRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
