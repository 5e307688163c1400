// Answers to controller requests in progress (routing and writing them), so
// that shutdown can let them finish before it closes their streams.
import { waitAtMost } from "../limits/deadline.ts";

export class PendingAnswers {
  readonly #answers = new Set<Promise<void>>();

  get size(): number {
    return this.#answers.size;
  }

  /** Holds `answer` until it settles (it must not reject). */
  add(answer: Promise<void>): void {
    this.#answers.add(answer);
    answer.finally(() => this.#answers.delete(answer));
  }

  /** Waits until no answer is in progress (later ones included), or until `deadline` (Unix ms). */
  async settled(deadline: number): Promise<void> {
    while (this.#answers.size > 0 && Date.now() < deadline) {
      await waitAtMost(Promise.all([...this.#answers]), deadline - Date.now());
    }
  }
}
