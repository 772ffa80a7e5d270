/**
 * Live progress for a long command (`troupe run`), drawn by ora: a spinner whose text says what is happening now,
 * and lines that stay (a step that finished, an escalation, a compensation), each with its mark.
 *
 * Off a terminal (a pipe, a log, CI, TERM=dumb: ora's own test) there is no spinner and no escape code, and the
 * lines that stay are still written, to the same stream. ora 9 needs help for that: left alone it writes to stderr,
 * prints `- <text>` for every `start()`, and colours its marks whenever the environment allows colour, even into a
 * pipe. So the stream is stdout, the spinner is only started on a terminal, and off one the marks are plain.
 */
import ora from 'ora';

export type Mark = 'succeed' | 'fail' | 'warn' | 'info';

export interface Progress {
  /** The spinner's text: what is happening now. On a terminal only; it is replaced, never kept. */
  status(text: string): void;
  /** A line that stays: the mark (✔ ✖ ⚠ ℹ) and the text. */
  persist(mark: Mark, text: string): void;
  /** Clears the spinner so what follows prints below the lines that stayed. */
  stop(): void;
}

const PLAIN_MARKS: Record<Mark, string> = { succeed: '✔', fail: '✖', warn: '⚠', info: 'ℹ' };

/** Progress on `stream` (stdout by default): a spinner when it is an interactive terminal, plain lines when not. */
export function createProgress(stream: NodeJS.WriteStream = process.stdout): Progress {
  // ora decides with is-interactive (a TTY, TERM not dumb, not CI), except on a terminal that reports no width (a
  // pty nobody sized, as `script` makes under a pipe): ora 9 divides by it and clears lines without end. While it
  // spins, ora swallows keystrokes (Ctrl-C still interrupts) and hides the cursor until `stop()`: callers stop it.
  const unsized = stream.isTTY === true && !(stream.columns > 0);
  const spinner = ora({ stream, ...(unsized ? { isEnabled: false } : {}) });
  if (!spinner.isEnabled) {
    return {
      status: () => {},
      persist: (mark, text) => void spinner.stopAndPersist({ symbol: PLAIN_MARKS[mark], text }),
      stop: () => {},
    };
  }
  let current = '';
  return {
    status(text) {
      current = text;
      if (spinner.isSpinning) spinner.text = text;
      else spinner.start(text);
    },
    persist(mark, text) {
      spinner[mark](text);
      // Persisting stops the spinner; it goes on below the new line with what was happening.
      if (current !== '') spinner.start(current);
    },
    stop: () => void spinner.stop(),
  };
}
