import type { EventDraft } from './events';

/**
 * Critical events skip the batch window: they flush the subscriber's pending
 * batch at once, in order (README, "Delivery semantics").
 */
export function isCriticalEvent(event: EventDraft): boolean {
  switch (event.type) {
    case 'anomaly_detected':
      return event.data.severity === 'high' || event.data.severity === 'critical';
    case 'analysis_update':
      return event.data.updateType === 'error';
    case 'notification':
      return event.data.level === 'critical';
    case 'resync_required':
      return true;
    default:
      return false;
  }
}
