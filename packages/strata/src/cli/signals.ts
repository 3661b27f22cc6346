// Ctrl-C and its kin: SIGINT, SIGTERM and SIGHUP abort the running command's
// signal (every wait ends, what it was writing is removed) and give its exit
// status, 128 + the signal's number.

/**
 * The signal that ended the command, if one did: its exit status is 128 + its number (130, 143,
 * 129).
 */
let interruptedBy: "SIGINT" | "SIGTERM" | "SIGHUP" | undefined;
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs `work` with SIGINT, SIGTERM and SIGHUP aborting its signal: every
 * wait ends, and what it was writing is removed. A second signal of the
 * same kind while cleaning up is left to its default (the process ends).
 */
export async function interruptibly<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers = (Object.keys(SIGNAL_NUMBERS) as Array<keyof typeof SIGNAL_NUMBERS>).map(
    (name) => {
      const handler = (): void => {
        interruptedBy ??= name;
        controller.abort(new Error(`interrupted by ${name}`));
      };
      process.once(name, handler);
      return [name, handler] as const;
    },
  );
  try {
    return await work(controller.signal);
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** The exit status of a command the user interrupted: 130, 143 or 129. */
export function interruptedStatus(): { status: number; signal: string | undefined } {
  return { status: 128 + SIGNAL_NUMBERS[interruptedBy ?? "SIGINT"], signal: interruptedBy };
}
