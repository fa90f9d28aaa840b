import { describe, expect, it, vi } from 'vitest';

import { ApiError, createApi, toApiError } from './api';

describe('createApi', () => {
  it('calls each command by its Rust name with camelCase arguments', async () => {
    const invoke = vi.fn().mockResolvedValue(null);
    const api = createApi(invoke);

    await api.createProfile({ username: 'amorgan', displayName: 'Dr A', password: 'pw' });
    await api.confirmTotp({ username: 'amorgan', password: 'pw', code: '123456' });
    await api.signIn({ username: 'amorgan', password: 'pw', totp: null });
    await api.lock();
    await api.touch();
    await api.sessionState();
    await api.profiles();
    await api.passwordPolicy();
    await api.pendingEnrolment({ username: 'amorgan', password: 'pw' });

    expect(invoke.mock.calls).toEqual([
      ['create_profile', { username: 'amorgan', displayName: 'Dr A', password: 'pw' }],
      ['confirm_totp', { username: 'amorgan', password: 'pw', code: '123456' }],
      ['sign_in', { username: 'amorgan', password: 'pw', totp: null }],
      ['lock', undefined],
      ['touch', undefined],
      ['session_state', undefined],
      ['profiles', undefined],
      ['password_policy', undefined],
      ['pending_enrolment', { username: 'amorgan', password: 'pw' }],
    ]);
  });

  it('returns what the command resolved to', async () => {
    const profiles = [{ username: 'a', display_name: 'A', totp_enabled: true }];
    const api = createApi(vi.fn().mockResolvedValue(profiles));
    await expect(api.profiles()).resolves.toEqual(profiles);
  });

  it('turns a {code, message} rejection into an ApiError with both', async () => {
    const api = createApi(
      vi.fn().mockRejectedValue({ code: 'locked_out', message: 'Wait.', retry_after_secs: 42 }),
    );
    const error = await api.signIn({ username: 'a', password: 'b', totp: '000000' }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe('locked_out');
    expect(error.message).toBe('Wait.');
    expect(error.retryAfterSecs).toBe(42);
  });

  it('hides raw string rejections behind a generic ipc error', async () => {
    const api = createApi(
      vi.fn().mockRejectedValue('Command sign_in not allowed by ACL: /home/alex/secret-path'),
    );
    const error = await api.lock().catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe('ipc');
    expect(error.message).not.toContain('secret-path');
  });
});

describe('toApiError', () => {
  it('keeps an ApiError as it is', () => {
    const e = new ApiError('not_found', 'No such profile.');
    expect(toApiError(e)).toBe(e);
  });

  it('rejects malformed payloads', () => {
    expect(toApiError({ code: 7, message: 'x' }).code).toBe('ipc');
    expect(toApiError(null).code).toBe('ipc');
    expect(toApiError(new Error('boom')).code).toBe('ipc');
  });

  it('ignores a non-numeric retry_after_secs', () => {
    expect(toApiError({ code: 'locked_out', message: 'm', retry_after_secs: 'soon' }).retryAfterSecs).toBeNull();
  });
});
