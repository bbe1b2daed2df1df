// The artifact store's public surface: refs, the two stores, and the failure converter.
export { ArtifactError, toActivityFailure } from './store.js';
export type { ArtifactErrorDetails, ArtifactErrorType, ArtifactRef, ArtifactStore, TransferOptions } from './store.js';
export { LocalArtifactStore, type LocalArtifactStoreOptions } from './local.js';
export { MlflowArtifactStore, type MlflowArtifactStoreOptions } from './mlflow.js';
