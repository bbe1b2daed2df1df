// The workflow bundle's entry point (workflowsPath): every workflow the worker hosts is exported here.
export { hello } from './hello.js';
