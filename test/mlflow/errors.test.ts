import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { isRetryableStatus, mlflowErrorFromResponse, mlflowNetworkError, toApplicationFailure } from '../../src/activities/mlflow/errors.js';

const uri = 'http://mlflow:5000';

describe('MLflow error mapping', () => {
  it('retries 5xx, 408 and 429 only', () => {
    expect([400, 401, 403, 404, 409, 422].map(isRetryableStatus)).toEqual([false, false, false, false, false, false]);
    expect([408, 429, 500, 502, 503, 504].map(isRetryableStatus)).toEqual([true, true, true, true, true, true]);
  });

  it("reads MLflow's {error_code, message}, FastAPI's {detail} and plain text bodies", () => {
    const mlflowBody = JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Changing param values is not allowed.' });
    expect(mlflowErrorFromResponse(uri, 'POST runs/log-batch', 400, mlflowBody)).toMatchObject({
      status: 400, errorCode: 'INVALID_PARAMETER_VALUE', retryable: false, type: 'MlflowError',
      message: 'MLflow POST runs/log-batch failed with HTTP 400 INVALID_PARAMETER_VALUE: Changing param values is not allowed.',
    });
    expect(mlflowErrorFromResponse(uri, 'PUT mlflow-artifacts/x', 503, '{"detail":"Artifact serving is disabled."}')).toMatchObject({
      errorCode: 'HTTP_503', retryable: true, type: 'MlflowUnavailable',
    });
    expect(mlflowErrorFromResponse(uri, 'GET runs/get', 429, 'slow down')).toMatchObject({ retryable: true, type: 'MlflowError' });
    expect(mlflowErrorFromResponse(uri, 'GET runs/get', 401, '<html>no</html>')).toMatchObject({
      errorCode: 'UNAUTHENTICATED', retryable: false, type: 'MlflowAuthFailed',
    });
  });

  it('turns MlflowErrors into typed ApplicationFailures and leaves other errors alone', () => {
    const unreachable = toApplicationFailure(mlflowNetworkError(uri, 'GET runs/get', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
    expect(unreachable).toBeInstanceOf(ApplicationFailure);
    expect(unreachable).toMatchObject({ type: 'MlflowUnavailable', nonRetryable: false, details: [{ status: null, errorCode: 'UNAVAILABLE', endpoint: 'GET runs/get' }] });
    expect((unreachable as ApplicationFailure).message).toContain('ECONNREFUSED');
    const bug = new TypeError('x is undefined');
    expect(toApplicationFailure(bug)).toBe(bug);
  });
});
