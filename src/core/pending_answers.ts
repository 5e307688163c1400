// Answers to controller requests in progress (routing and writing them), so
// that shutdown can let them finish before it closes their streams.

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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    try {
      while (this.#answers.size > 0 && Date.now() < deadline) {
        await Promise.race([Promise.all([...this.#answers]), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
