import { afterEach, describe, expect, it } from 'vitest';
import { METRIKA_SRC, startAnalytics } from './analytics';

afterEach(() => {
  document.head.innerHTML = '';
  delete window.ym;
});

describe('analytics', () => {
  it('test_analytics_loads_nothing_when_no_id_is_configured', () => {
    expect(startAnalytics(null)).toBe(false);
    expect(document.querySelectorAll('script')).toHaveLength(0);
    expect(window.ym).toBeUndefined();
  });

  it('test_a_configured_counter_loads_its_script_once_and_initializes', () => {
    expect(startAnalytics('987654')).toBe(true);
    expect(startAnalytics('987654')).toBe(true);
    const scripts = document.querySelectorAll(`script[src="${METRIKA_SRC}"]`);
    expect(scripts).toHaveLength(1);
    expect(window.ym?.a?.[0]?.slice(0, 2)).toEqual([987654, 'init']);
  });
});
