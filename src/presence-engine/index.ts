/** The presence engine's public API: the model, composition and the per-watcher view. */
export {
  COMPOSED_STATES, IN_A_MEETING_TEXT, ON_THE_PHONE_TEXT, SHOWS, SOURCE_KINDS, UNAVAILABLE,
  type Composed, type ComposedState, type PresenceTuple, type Show, type SourceKind,
} from './model.js';
export { aggregate, carriesAvailability, compareTuples, stateOfShow } from './aggregate.js';
export { canSee, viewFor, type View, type ViewParams, type ViewReason } from './view.js';
