/** Who is calling, as the verified token says. */
export interface Principal {
  userId: string;
  roles: ReadonlySet<string>;
  /** Ids the user may watch; `'*'` grants all. */
  investigations: ReadonlySet<string>;
  analyses: ReadonlySet<string>;
  /** Expiry, in milliseconds since the epoch. */
  expiresAt: number;
  /** When the token was issued (`iat`), in ms since the epoch; 0 for a token without `iat`. */
  issuedAt: number;
  /** The token's own id (`jti`), what admin.revokeToken names; null for a token without one. */
  jti: string | null;
}

export type GrantKind = 'investigations' | 'analyses';

export function isAdmin(p: Principal): boolean {
  return p.roles.has('admin');
}

export function isService(p: Principal): boolean {
  return p.roles.has('service');
}

/** Deny by default: admins see everything, others only what their token lists. */
export function isGranted(p: Principal, kind: GrantKind, id: string): boolean {
  if (isAdmin(p)) return true;
  const grants = p[kind];
  return grants.has('*') || grants.has(id);
}
