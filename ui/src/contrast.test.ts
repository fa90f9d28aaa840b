// Colour contrast, checked from the palette itself: jsdom cannot compute
// rendered colours, so axe's color-contrast rule is off in a11y.test.ts.
// Each pair below is a foreground/background the stylesheets actually use
// (the test asserts each colour is written in the named file), held to WCAG
// 2.2 AA: 4.5:1 for text (1.4.3), 3:1 for focus rings and field edges (1.4.11).
import { describe, expect, it } from 'vitest';

import appCss from './app.css?raw';
import joinCss from './join/join.css?raw';
import signedIn from './lib/components/SignedIn.svelte?raw';
import visitRoom from './lib/components/VisitRoom.svelte?raw';
import waitingRoom from './lib/components/WaitingRoom.svelte?raw';
import policyPage from './lib/screens/PolicyPage.svelte?raw';

const SOURCES: Record<string, string> = {
  'app.css': appCss,
  'join/join.css': joinCss,
  'lib/components/SignedIn.svelte': signedIn,
  'lib/components/VisitRoom.svelte': visitRoom,
  'lib/components/WaitingRoom.svelte': waitingRoom,
  'lib/screens/PolicyPage.svelte': policyPage,
};
const src = (p: string): string => {
  const text = SOURCES[p];
  if (text === undefined) throw new Error(`${p} is not imported`);
  return text;
};
const APP_CSS = src('app.css');

/** The `--c-*` colours of app.css's `:root`. */
function palette(css: string): Record<string, string> {
  const root = /:root\s*{([^}]*)}/.exec(css)?.[1] ?? '';
  return Object.fromEntries([...root.matchAll(/--(c-[a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)].map((m) => [m[1]!, m[2]!.toLowerCase()]));
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** WCAG contrast ratio of two #rrggbb colours. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

const P = palette(APP_CSS);
const v = (name: string) => {
  const c = P[name];
  if (!c) throw new Error(`--${name} is not in app.css :root`);
  return c;
};

describe('contrast helper', () => {
  it('matches the WCAG reference values', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
    expect(contrast('#ffffff', '#ffffff')).toBe(1);
  });
});

describe('palette contrast (WCAG AA)', () => {
  const text: [string, string, string][] = [
    ['body text on page', v('c-text'), v('c-bg')],
    ['body text on panels', v('c-text'), v('c-surface')],
    ['muted text on page', v('c-muted'), v('c-bg')],
    ['muted text on panels', v('c-muted'), v('c-surface')],
    ['links on panels', v('c-link'), v('c-surface')],
    ['links on page', v('c-link'), v('c-bg')],
    ['secondary button text', v('c-primary'), v('c-surface')],
    ['primary button text', '#ffffff', v('c-primary')],
    ['primary button hovered', '#ffffff', v('c-primary-hover')],
    ['error text on its banner', v('c-danger-text'), v('c-danger-bg')],
    ['error text on panels', v('c-danger-text'), v('c-surface')],
    ['OK text on panels', v('c-ok-text'), v('c-surface')],
    ['waiting count badge', '#ffffff', v('c-danger')],
    ['current nav item', v('c-text'), '#e3eef7'],
    ['visit room "ok" text', '#1d6b2f', v('c-surface')],
    ['visit room caption on dark', '#eeeeee', '#333333'],
  ];
  it.each(text)('%s is at least 4.5:1', (_, fg, bg) => {
    expect(contrast(fg, bg)).toBeGreaterThanOrEqual(4.5);
  });

  const nonText: [string, string, string][] = [
    ['focus ring on page', v('c-focus'), v('c-bg')],
    ['focus ring on panels', v('c-focus'), v('c-surface')],
    ['focus ring on the join page dark header', v('c-focus'), '#1b2530'],
    ['form field edge', v('c-input-border'), v('c-surface')],
    ['invalid field edge', v('c-danger'), v('c-surface')],
  ];
  it.each(nonText)('%s is at least 3:1', (_, fg, bg) => {
    expect(contrast(fg, bg)).toBeGreaterThanOrEqual(3);
  });

  it('uses the literal colours it checks where it says', () => {
    expect(src('lib/components/SignedIn.svelte')).toContain('#e3eef7');
    expect(src('lib/components/WaitingRoom.svelte')).toMatch(/background: var\(--c-danger\);\s*color: #fff;/);
    expect(src('lib/components/VisitRoom.svelte')).toContain('#1d6b2f');
    expect(src('lib/components/VisitRoom.svelte')).toMatch(/background: #333;[\s\S]*color: #eee;/);
    expect(src('join/join.css')).toContain('#1b2530');
    // Focus is visible everywhere: one rule for every focusable element.
    expect(APP_CSS).toMatch(/:focus-visible\s*{\s*outline: 3px solid var\(--c-focus\);/);
    // Outlines are removed only from headings that take focus by script
    // (tabindex=-1, to move screen readers on navigation), never from controls.
    for (const f of ['app.css', 'join/join.css', 'lib/components/SignedIn.svelte', 'lib/screens/PolicyPage.svelte']) {
      const removed = [...src(f).matchAll(/([^{}]+){\s*outline:\s*(?:none|0)\s*;/g)].map((m) => m[1]!.trim());
      for (const sel of removed) expect(sel, `${f}: ${sel}`).toMatch(/^(\.[a-z]+ )?(h1|\.who):focus$/);
    }
  });
});
