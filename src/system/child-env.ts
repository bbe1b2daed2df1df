// The environment of the processes the worker starts (training jobs, model servers, check commands,
// the router): what a process needs to run, plus what the spec names, never the worker's credentials.

/** Names a process needs to find its tools, its Python and its GPU. */
const PASSED = [
  /^(PATH|HOME|USER|LOGNAME|SHELL|TERM|TZ|LANG|LANGUAGE|TMPDIR|TEMP|TMP)$/,
  /^LC_[A-Z_]+$/,
  /^XDG_[A-Z_]+$/,
  /^PYTHON[A-Z_]*$/,
  /^(VIRTUAL_ENV|CONDA_PREFIX|CONDA_DEFAULT_ENV|LD_LIBRARY_PATH|OMP_NUM_THREADS|MKL_NUM_THREADS|TOKENIZERS_PARALLELISM)$/,
  /^(CUDA|NVIDIA|HIP|ROCR|NCCL)_[A-Z0-9_]+$/,
  /^(HF_HOME|HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE|TORCH_HOME)$/,
  /^SLIPWAY_[A-Z0-9_]+$/,
];

/** Never passed on, even under a passed prefix (e.g. SLIPWAY_WEBHOOK_URL, SLIPWAY_CODEC_KEYS_FILE). */
const WITHHELD = /PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|HOOK|_URL$|API_?KEY|_KEYS?(_|$)|AUTH/i;

/**
 * The environment for a child process: the worker's variables that `PASSED` names (less any that
 * look like a secret or are named in `withheld`, such as the spec's webhook variable), then `extra`
 * (the spec's own `env` and Slipway's job variables), which is passed as given.
 */
export function childEnv(extra: Record<string, string | undefined> = {}, opts: { base?: NodeJS.ProcessEnv; withheld?: string[] } = {}): NodeJS.ProcessEnv {
  const base = opts.base ?? process.env;
  const withheld = new Set(opts.withheld ?? []);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || withheld.has(name) || WITHHELD.test(name)) continue;
    if (PASSED.some((p) => p.test(name))) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
