// The relay's bounded outbound MQTT queue. Publishing never waits: a
// publication is queued and sent while the broker is connected. When the
// queue is full the oldest publication is dropped and counted. A retained
// publication replaces a still-queued retained one of the same topic in place
// (only the newest state of a retained topic matters), so a broker outage
// costs one entry per device presence, not one per change.
import type { PublishOptions } from "./mqtt_ports.ts";

export interface Publication extends PublishOptions {
  topic: string;
  payload: Uint8Array | string;
}

export class PublishQueue {
  readonly #max: number;
  #items: (Publication | undefined)[] = [];
  #head = 0;
  /** Queued retained publications by topic. */
  readonly #retained = new Map<string, Publication>();
  #dropped = 0;

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError("queue limit must be at least 1");
    this.#max = max;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get max(): number {
    return this.#max;
  }

  /** Publications dropped because the queue was full, since it was created. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Appends (or coalesces); returns how many old publications were dropped. */
  push(publication: Publication): number {
    if (this.#coalesce(publication)) return 0;
    this.#items.push(publication);
    if (publication.retain) this.#retained.set(publication.topic, publication);
    return this.#trim();
  }

  /**
   * Puts publications back at the front in their order (those handed to a
   * connection that was lost before the broker acknowledged them). A queued
   * newer state of the same retained topic wins over a re-queued one.
   */
  requeue(publications: readonly Publication[]): number {
    for (let i = publications.length - 1; i >= 0; i--) {
      const publication = publications[i]!;
      if (publication.retain && this.#retained.has(publication.topic)) continue;
      if (this.#head > 0) this.#items[--this.#head] = publication;
      else this.#items.unshift(publication);
      if (publication.retain) {
        this.#retained.set(publication.topic, publication);
      }
    }
    return this.#trim();
  }

  /** Queues ahead of everything else (the relay's own status on connect). */
  pushFront(publication: Publication): number {
    this.#removeRetained(publication.topic);
    return this.requeue([publication]);
  }

  shift(): Publication | undefined {
    if (this.length === 0) return undefined;
    const publication = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined;
    if (this.#retained.get(publication.topic) === publication) {
      this.#retained.delete(publication.topic);
    }
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return publication;
  }

  #coalesce(publication: Publication): boolean {
    if (!publication.retain) return false;
    const queued = this.#retained.get(publication.topic);
    if (queued === undefined) return false;
    queued.payload = publication.payload;
    queued.qos = publication.qos;
    return true;
  }

  #removeRetained(topic: string): void {
    const queued = this.#retained.get(topic);
    if (queued === undefined) return;
    this.#retained.delete(topic);
    const index = this.#items.indexOf(queued, this.#head);
    if (index >= 0) this.#items.splice(index, 1);
  }

  /** Drops the oldest publications beyond the limit. */
  #trim(): number {
    let dropped = 0;
    while (this.length > this.#max) {
      this.shift();
      dropped++;
    }
    this.#dropped += dropped;
    return dropped;
  }
}
