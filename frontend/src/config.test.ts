import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, loadSettings, parseSettings } from './config';
import { jsonResponse } from './test-helpers';

describe('settings loading', () => {
  it('test_settings_are_read_from_config_json_at_run_time', async () => {
    const fetchStub = vi.fn(async () => jsonResponse({ apiBaseUrl: 'https://api.example.org/pm/', maxFiles: 2, analyticsId: '12345' }));
    const loaded = await loadSettings('config.json', fetchStub);
    expect(fetchStub).toHaveBeenCalledWith('config.json', { cache: 'no-store' });
    expect(loaded.problem).toBeNull();
    expect(loaded.settings).toEqual({ apiBaseUrl: 'https://api.example.org/pm', maxFiles: 2, analyticsId: '12345' });
  });

  it('test_the_shipped_config_json_means_same_origin_4_files_no_analytics', async () => {
    const shipped = (await import('../public/config.json')).default;
    expect(parseSettings(shipped)).toEqual({ settings: { apiBaseUrl: '', maxFiles: 4, analyticsId: null }, problem: null });
  });

  it('test_a_missing_config_json_falls_back_to_defaults_with_a_reason', async () => {
    const loaded = await loadSettings('config.json', vi.fn(async () => new Response('nope', { status: 404 })));
    expect(loaded.settings).toEqual(DEFAULT_SETTINGS);
    expect(loaded.problem).toContain('404');
  });

  it('test_an_unreachable_or_broken_config_json_falls_back_to_defaults', async () => {
    const down = await loadSettings('config.json', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    expect(down.settings).toEqual(DEFAULT_SETTINGS);
    const broken = await loadSettings('config.json', vi.fn(async () => new Response('{not json', { status: 200 })));
    expect(broken.settings).toEqual(DEFAULT_SETTINGS);
    expect(broken.problem).not.toBeNull();
  });

  it('test_a_bad_field_is_reported_and_only_that_field_falls_back', () => {
    const loaded = parseSettings({ apiBaseUrl: '/api', maxFiles: 0, analyticsId: 'abc' });
    expect(loaded.settings).toEqual({ apiBaseUrl: '/api', maxFiles: 4, analyticsId: null });
    expect(loaded.problem).toMatch(/maxFiles/);
    expect(loaded.problem).toMatch(/analyticsId/);
    expect(parseSettings([1, 2]).problem).not.toBeNull();
  });
});
