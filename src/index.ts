// Slipway's library entry: the plugin for existing workers, the worker factory, and the typed client.
export { slipwayPlugin, type SlipwayPluginOptions } from './plugin.js';
export { createSlipwayWorker, TASK_QUEUE } from './worker.js';
