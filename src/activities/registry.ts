// Named implementations (job backends, deploy targets): a spec picks one by name; a name the worker
// does not offer is a typed, non-retryable failure that lists what it does offer.
import { ApplicationFailure } from '@temporalio/common';

export type ImplementationKind = 'JobBackend' | 'DeployTarget';

/** `UnknownJobBackend` / `UnknownDeployTarget`, naming the registered implementations. */
export function unknownImplementation(kind: ImplementationKind, name: string, registered: Record<string, unknown>): ApplicationFailure {
  const names = Object.keys(registered);
  const field = kind === 'JobBackend' ? 'train.backend' : 'deploy.target';
  return ApplicationFailure.create({
    type: `Unknown${kind}`,
    nonRetryable: true,
    message: `${field}: no ${kind} named ${JSON.stringify(name)} on this worker (registered: ${names.join(', ') || 'none'}); register it with slipwayPlugin({ ${kind === 'JobBackend' ? 'jobBackends' : 'deployTargets'}: { ${name}: ... } })`,
    details: [{ name, registered: names }],
  });
}
