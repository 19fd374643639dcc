// The checks every page and state must pass (UI.md §4, 15, 18, 20), run together by
// `audit(page)`, plus the live-region recorder of check 16 and the screenshot helper.
import AxeBuilder from '@axe-core/playwright';
import { expect, type BrowserContext, type Page } from '@playwright/test';
import path from 'node:path';

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** 15: axe finds nothing at WCAG 2.2 AA on the page as it is now. */
export async function expectNoAxeViolations(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(found, `axe violations on ${label} (${page.url()})`).toEqual([]);
}

/** 20: one h1, a "… – BoxOffice" title, `lang` on html, exactly one main. */
export async function expectPageStructure(page: Page, label: string): Promise<void> {
  const facts = await page.evaluate(() => ({
    h1: document.querySelectorAll('h1').length,
    title: document.title,
    lang: document.documentElement.getAttribute('lang') ?? '',
    main: document.querySelectorAll('main').length,
  }));
  expect(facts.h1, `exactly one h1 on ${label}`).toBe(1);
  expect(facts.title, `title of ${label}`).toMatch(/\S.* – BoxOffice$/);
  expect(facts.lang, `lang of ${label}`).not.toBe('');
  expect(facts.main, `one main on ${label}`).toBe(1);
}

/** 18: at 320 × 640 nothing is wider than the viewport. Restores the viewport after. */
export async function expectFitsNarrow(page: Page, label: string): Promise<void> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const widths = await page.evaluate(() => {
    // Name the outermost elements that stick out, so a failure says what to fix.
    const out = new Set<Element>();
    const wide: string[] = [];
    document.querySelectorAll('body *').forEach((el) => {
      if (el.getBoundingClientRect().right <= window.innerWidth + 0.5) return;
      out.add(el);
      for (let up = el.parentElement; up; up = up.parentElement) if (out.has(up)) return;
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent ?? '').trim().slice(0, 30);
      wide.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${cls} "${text}"`);
    });
    return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 5) };
  });
  if (before) await page.setViewportSize(before);
  expect(widths.scroll, `scrollWidth at 320 px on ${label}; too wide: ${widths.wide.join(', ')}`).toBeLessThanOrEqual(
    widths.inner,
  );
}

/** Browser contexts with JavaScript off (fixtures.ts adds them). */
export const scriptless = new WeakSet<BrowserContext>();

/**
 * 15 in a context with JavaScript off, where axe cannot run (it needs the page's own
 * timers): the same address, with the same cookies, in a twin context whose page scripts
 * are blocked, so the DOM is the one a no-JS visitor gets.
 */
async function expectNoAxeViolationsScriptless(page: Page, label: string): Promise<void> {
  const browser = page.context().browser()!;
  const twin = await browser.newContext({ storageState: await page.context().storageState() });
  try {
    await twin.route(/\.js(\?|$)/, (route) => route.abort());
    const copy = await twin.newPage();
    await copy.goto(page.url());
    await expectNoAxeViolations(copy, `${label} (scripts off)`);
  } finally {
    await twin.close();
  }
}

/** 15, 18 and 20 on the page as it is now. */
export async function audit(page: Page, label: string): Promise<void> {
  await expectPageStructure(page, label);
  await expectFitsNarrow(page, label);
  if (scriptless.has(page.context())) {
    await expectNoAxeViolationsScriptless(page, label);
  } else {
    await expectNoAxeViolations(page, label);
  }
}

/** docs/screenshots/<name>.png at the current size and <name>-320.png at 320 px wide. */
export async function screenshots(page: Page, name: string): Promise<void> {
  const dir = path.join(__dirname, '..', 'docs', 'screenshots');
  const before = page.viewportSize();
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 320, height: 640 });
  await page.screenshot({ path: path.join(dir, `${name}-320.png`), fullPage: true });
  if (before) await page.setViewportSize(before);
}

/**
 * 16: records, in order, every distinct text a polite status region shows
 * (`role=status` or `aria-live=polite`), from the first paint on. Read it with
 * `liveLog(page)`. Regions with `aria-live=off` and `role=timer` are not recorded: they
 * are silent by design. Each entry names its region by role, id and data- attributes.
 */
export async function recordLiveRegions(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __live: { region: string; text: string }[] };
    w.__live = [];
    const last = new WeakMap<Element, string>();
    const scan = () => {
      document.querySelectorAll('[role=status], [aria-live=polite], [aria-live=assertive], [role=alert]').forEach((el) => {
        if (el.getAttribute('aria-live') === 'off') return;
        // A hidden region says nothing; showing it says its text.
        const shown = !el.closest('[hidden]') && (el as HTMLElement).checkVisibility?.() !== false;
        const text = shown ? (el.textContent ?? '').replace(/\s+/g, ' ').trim() : '';
        if (text !== (last.get(el) ?? '')) {
          last.set(el, text);
          if (text) {
            const role = el.getAttribute('role') ?? `live-${el.getAttribute('aria-live')}`;
            const marks = Array.from(el.attributes)
              .filter((a) => a.name.startsWith('data-'))
              .map((a) => `[${a.name}]`)
              .join('');
            w.__live.push({ region: `${role}${el.id ? `#${el.id}` : ''}${marks}`, text });
          }
        }
      });
    };
    new MutationObserver(scan).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    document.addEventListener('DOMContentLoaded', scan);
  });
}

export async function liveLog(page: Page): Promise<{ region: string; text: string }[]> {
  return page.evaluate(() => (window as unknown as { __live: { region: string; text: string }[] }).__live ?? []);
}

/** 17: the focused element has a visible focus indicator (outline or box-shadow). */
export async function expectVisibleFocus(page: Page, label: string): Promise<void> {
  const style = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    return { tag: el.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
  });
  expect(style, `something is focused on ${label}`).not.toBeNull();
  const visible = (style!.outline !== 'none' && style!.width !== '0px') || style!.shadow !== 'none';
  expect(visible, `focus ring of ${style!.tag} on ${label}: ${JSON.stringify(style)}`).toBe(true);
}

/**
 * 17: keyboard only. Tabbing from the top reaches every visible control (a radio group
 * is one stop), each with a visible focus ring, and nothing — a sticky bar, a banner —
 * covers the focused element (`elementFromPoint` at its centre finds it, or its label).
 */
export async function expectKeyboardReach(page: Page, label: string): Promise<void> {
  const wanted = await page.evaluate(() => {
    const keys = Array.from(
      document.querySelectorAll<HTMLElement>(
        'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])',
      ),
    )
      .filter((el) => el.checkVisibility() && el.getBoundingClientRect().width > 1)
      .map((el) => ((el as HTMLInputElement).type === 'radio' ? `radio:${(el as HTMLInputElement).name}` : el.outerHTML));
    return [...new Set(keys)];
  });
  const reached = new Set<string>();
  for (let stop = 1; stop <= wanted.length + 5; stop += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      if (!el || el === document.body) return null;
      const box = el.getBoundingClientRect();
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      const ok = !!hit && (hit === el || el.contains(hit) || hit.contains(el) || !!el.labels?.[0]?.contains(hit));
      return {
        key: el.type === 'radio' ? `radio:${el.name}` : el.outerHTML,
        covered: !ok,
        by: hit ? `${hit.tagName.toLowerCase()}.${hit.className}` : 'nothing',
      };
    });
    if (!focused) continue;
    reached.add(focused.key);
    await expectVisibleFocus(page, `${label}, Tab stop ${stop}`);
    expect(focused.covered, `${label}, Tab stop ${stop}: ${focused.key.slice(0, 80)} is covered by ${focused.by}`).toBe(
      false,
    );
  }
  const missed = wanted.filter((key) => !reached.has(key)).map((key) => key.slice(0, 100));
  expect(missed, `controls Tab never reached on ${label}`).toEqual([]);
}
