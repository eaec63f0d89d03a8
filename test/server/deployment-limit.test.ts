import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeploymentsAtLimitError } from '../../src/routing/index.js';
import { toErrorReply } from '../../src/server/errors.js';

describe('DeploymentsAtLimitError in the API', () => {
  it('answers 429 deployment_rate_limited with Retry-After', () => {
    const r = toErrorReply(new DeploymentsAtLimitError('gpt', 2_500));
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'deployment_rate_limited');
    assert.equal(r.body.error.type, 'rate_limit_error');
    assert.equal(r.retryAfterSeconds, 3);
  });
});
