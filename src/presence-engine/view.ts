/**
 * What one watcher may see of one user's composed presence (SPEC §3
 * "Watchers" and "Privacy"; RFC 6121 §3: presence goes to contacts whose
 * subscription is from or both; XEP-0191: a blocked contact gets nothing).
 * Pure: the caller reads the owner's roster item for the watcher and the
 * owner's block list and passes the facts in.
 *
 * Decision, first match wins:
 *   watcher is the owner            → visible, 'self'
 *   no watcher (nobody signed in)   → hidden,  'anonymous'
 *   owner blocks the watcher        → hidden,  'blocked'    (even when subscribed)
 *   owner's item: from/both         → visible, 'subscribed'
 *   anything else (none/to, no item,
 *     pending in, pre-approved)     → hidden,  'not-subscribed'
 * Hidden means the composed state `unavailable`, no text, no flags, no top:
 * exactly what a user with no source looks like, so a hidden watcher cannot
 * tell "not allowed" from "offline".
 */
import type { RosterItem } from '../store/roster-types.js';
import { UNAVAILABLE, type Composed } from './model.js';

export type ViewReason = 'self' | 'subscribed' | 'not-subscribed' | 'blocked' | 'anonymous';

export interface View { visible: boolean; reason: ViewReason; composed: Composed }

export interface ViewParams {
  /** The user whose presence is viewed; compared with `watcher` as given, so pass both in one form (prepared userIds, or bare JIDs). */
  owner: string;
  /** Who looks; null for nobody in particular. */
  watcher: string | null;
  /** The owner's roster item for the watcher, hidden items included; null when there is none. */
  item: RosterItem | null;
  /** Whether the owner's block list holds the watcher. */
  blockedByOwner: boolean;
  composed: Composed;
}

/** Whether a watcher with this item in the owner's roster, blocked or not, receives the owner's presence. */
export function canSee(item: Pick<RosterItem, 'subscription'> | null, blocked: boolean): boolean {
  return !blocked && item !== null && (item.subscription === 'from' || item.subscription === 'both');
}

const hidden = (reason: ViewReason): View => ({ visible: false, reason, composed: { ...UNAVAILABLE } });

export function viewFor(params: ViewParams): View {
  const { owner, watcher, item, blockedByOwner, composed } = params;
  if (watcher !== null && watcher === owner) return { visible: true, reason: 'self', composed: { ...composed } };
  if (watcher === null) return hidden('anonymous');
  if (blockedByOwner) return hidden('blocked');
  if (canSee(item, false)) return { visible: true, reason: 'subscribed', composed: { ...composed } };
  return hidden('not-subscribed');
}
