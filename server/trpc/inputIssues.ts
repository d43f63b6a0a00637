import type { ZodError } from 'zod';

export interface InputIssue {
  path: string;
  message: string;
}

type Issue = ZodError['issues'][number];

/**
 * Zod's issues as `{ path, message }`, one per wrong field. For a union that no
 * branch matched, the branch that came closest (fewest issues) speaks, so the
 * caller reads "level: expected one of ..." rather than "invalid input".
 */
export function inputIssues(error: ZodError): InputIssue[] {
  return flatten(error.issues, []);
}

function flatten(issues: readonly Issue[], prefix: PropertyKey[]): InputIssue[] {
  return issues.flatMap((issue): InputIssue[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      return flatten(closest, path);
    }
    return [{ path: path.map(String).join('.') || '(input)', message: issue.message }];
  });
}
