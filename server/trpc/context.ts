import type { AppServices } from '../app';
import type { Principal } from '../auth/principal';
import type { Connection } from '../transport/connection';

/** What every procedure sees. `connection` is null over HTTP. */
export interface Context {
  app: AppServices;
  principal: Principal | null;
  connection: Connection | null;
}
