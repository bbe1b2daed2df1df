// The workflow bundle's entry point (workflowsPath): every workflow the worker hosts is exported here.
export { releasePipeline } from './release-pipeline.js';
export { rollbackRelease } from './rollback-release.js';
export { lightChecks } from './light-checks.js';
