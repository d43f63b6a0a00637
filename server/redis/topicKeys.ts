/**
 * A topic's hash tag under the deployment's prefix: every key and the channel
 * of one topic carry it, so on a Redis Cluster they share a slot (a script
 * may only touch keys of one slot) and its events travel on that slot's
 * shard. Topics are spread over the slots by their names.
 */
export function topicTag(prefix: string, topic: string): string {
  return `${prefix}{t:${topic}}`;
}

/** The keys and channel of a topic (see redis/scripts.ts for what each holds). */
export function topicKeys(prefix: string, topic: string) {
  const tag = topicTag(prefix, topic);
  return { stream: `${tag}:s`, meta: `${tag}:m`, channel: `${tag}:c`, claims: `${tag}:idem` };
}
