import { afterEach, describe, expect, it } from 'vitest';
import { MESSAGES, detectLang, fill, saveLang } from './i18n';

afterEach(() => localStorage.clear());

describe('languages', () => {
  it('test_the_language_follows_the_browser_when_no_choice_was_made', () => {
    expect(detectLang(['ru-RU', 'en-US'])).toBe('ru');
    expect(detectLang(['de-DE', 'en-GB'])).toBe('en');
    expect(detectLang(['uk-UA', 'ru'])).toBe('ru');
    expect(detectLang(['fr'])).toBe('en');
    expect(detectLang([])).toBe('en');
  });

  it('test_a_choice_made_on_the_page_wins_over_the_browser', () => {
    saveLang('ru');
    expect(detectLang(['en-US'])).toBe('ru');
  });

  it('test_both_languages_say_every_per_photo_error_and_the_same_placeholders', () => {
    const { en, ru } = MESSAGES;
    expect(Object.keys(ru.photoErrors).sort()).toEqual(Object.keys(en.photoErrors).sort());
    expect(ru.about).toHaveLength(en.about.length);
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      if (typeof en[key] === 'string') expect(placeholders(ru[key] as string)).toEqual(placeholders(en[key] as string));
    }
    for (const key of Object.keys(en.errors) as (keyof typeof en.errors)[]) {
      expect(placeholders(ru.errors[key])).toEqual(placeholders(en.errors[key]));
    }
  });

  it('test_placeholders_are_filled_and_unknown_ones_kept', () => {
    expect(fill('{n} of {max} photos', { n: 2, max: 4 })).toBe('2 of 4 photos');
    expect(fill('{n} of {other}', { n: 1 })).toBe('1 of {other}');
  });
});
