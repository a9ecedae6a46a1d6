/**
 * `work`'s answer, or a rejection with `message` once `ms` pass without one. The timer is cleared
 * when either settles and never holds the process open; should `work` fail after the deadline,
 * that failure is not left unhandled. `work` itself is not stopped: callers that share a
 * connection with it decide what to do with that connection (drop it, roll back).
 */
export function withTimeout<T>(work: PromiseLike<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  const answer = Promise.resolve(work);
  answer.catch(() => undefined);
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}
