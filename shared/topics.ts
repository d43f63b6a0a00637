/**
 * Topic names: one history and one id sequence each. The prefix says which
 * retention applies (notifications keep their own).
 */
export const topics = {
  investigation: (id: string) => `investigation:${id}`,
  analysis: (id: string) => `analysis:${id}`,
  chat: (sessionId: string) => `chat:${sessionId}`,
  notification: (userId: string) => `notification:${userId}`,
} as const;

export type TopicKind = keyof typeof topics;

export function topicKind(topic: string): TopicKind {
  return topic.slice(0, topic.indexOf(':')) as TopicKind;
}
