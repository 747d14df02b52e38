/**
 * The error of class `type` that `action` throws, for assertions on its message and fields. Any
 * other error is rethrown, and an action that throws nothing fails the test.
 */
export function thrownBy<E extends Error>(type: abstract new (...args: never[]) => E, action: () => unknown): E {
  try {
    action();
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}
