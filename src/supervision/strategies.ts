/**
 * Which children a restart affects (OTP strategies). Pure: children are in start order, and the result
 * is too (restart left to right; the caller terminates the others right to left first).
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

export const STRATEGIES: readonly Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];

export function affectedChildren<T>(strategy: Strategy, children: readonly T[], failed: T): T[] {
  switch (strategy) {
    case 'one-for-one':
      return [failed];
    case 'one-for-all':
      return [...children];
    case 'rest-for-one': {
      const index = children.indexOf(failed);
      return index < 0 ? [failed] : children.slice(index);
    }
  }
}
