"""The page's frame: title, the mode banner, and the small scripts Gradio has no option
for (Ctrl/⌘+Enter in the prompt runs; the status is announced to screen readers)."""
from __future__ import annotations

import html

import gradio as gr

from wiro import spec

from ..backend import SIMULATOR_NOTICE


class _Generic(gr.themes.Font):
    """A generic family (system-ui): named bare, as CSS wants it (Gradio quotes a name)."""

    def __str__(self) -> str:
        return self.name


# Gradio's default theme in the system's fonts: its Source Sans Pro and IBM Plex Mono are over
# 100 KB of downloads before the text settles, on every first visit.
THEME = gr.themes.Default(
    font=[_Generic("system-ui"), "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue",
          "Arial", "sans-serif"],
    font_mono=[_Generic("ui-monospace"), "SFMono-Regular", "Menlo", "Consolas",
               "Liberation Mono", "monospace"])

# The status area is replaced on every update; its wrapper stays, so it is the live region.
LIVE_REGION = """
element.setAttribute('role', 'status');
element.setAttribute('aria-live', 'polite');
"""

# Generate's own click shows "Starting…" at once, before the server's first answer arrives
# (that takes a round trip through Gradio's queue); the inputs pass through unchanged.
STARTING_JS = """(...inputs) => {
  const box = document.querySelector('#run-status-box .run-status');
  if (box) {
    box.className = 'run-status run-running';
    box.dataset.kind = 'running';
    box.dataset.status = '';
    box.innerHTML = '<div class="run-title">Starting…</div>';
  }
  return inputs;
}"""

# Runs `fn` once per frame in which the page's markup changed (Gradio builds and rebuilds it).
AFTER_CHANGES_JS = """
const afterChanges = (fn) => {
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fn(); });
  }).observe(document.documentElement, {childList: true, subtree: true});
};
"""

# Gradio's markup, made right for screen readers as it renders: an empty image's
# placeholder carries a label but no role; a gallery thumbnail's alt repeats the caption
# beside it, and the footer's icons repeat their link's words (both read twice).
A11Y_JS = """
const fixMarkup = () => {
  for (const e of document.querySelectorAll('.empty[aria-label]:not([role])'))
    e.setAttribute('role', 'img');
  const echoes = '.thumbnail-item img[alt]:not([alt=""]), footer img[alt]:not([alt=""])';
  for (const img of document.querySelectorAll(echoes))
    img.setAttribute('alt', '');
};
afterChanges(fixMarkup);
"""

# The result fits the window: the image may be as tall as the window less what sits above it
# (on a desktop, at the top of the page: header, status; on a phone, the status), measured
# when one of those changes size (a ResizeObserver: it reports after layout, so measuring
# forces no extra one while the page builds). Gradio may replace an element (a component
# shown again is a new one): new ones are watched as they appear.
FIT_JS = """
const fitResult = () => {
  const main = document.querySelector('#main');
  const col = document.querySelector('#result-col');
  const block = document.querySelector('#result');
  if (!main || !col || !block) return;
  const desktop = matchMedia('(min-width: 1024px)').matches;
  const top = desktop ? main.getBoundingClientRect().top + scrollY : 0;
  const offset = (el) => el.getBoundingClientRect().top - col.getBoundingClientRect().top;
  const status = document.querySelector('#run-status-box') || block;
  // The progress frame sits in the status: it goes by the status's top, never its height.
  main.style.setProperty('--result-above', Math.round(top + offset(block) + 16) + 'px');
  main.style.setProperty('--status-above', Math.round(top + offset(status) + 16) + 'px');
};
const sized = new ResizeObserver(fitResult);
const watched = new WeakSet();
const watch = (el) => { if (el && !watched.has(el)) { watched.add(el); sized.observe(el); } };
const watchAll = () => {
  const main = document.querySelector('#main');
  if (!main) return;
  // What sits above #main (header, banner, key row) moves it; inside the result column,
  // the blocks above the image move it.
  for (let el = main; el; el = el.previousElementSibling) watch(el);
  const col = document.querySelector('#result-col');
  const block = document.querySelector('#result');
  if (col && block) for (const el of col.children) { watch(el); if (el === block) break; }
};
afterChanges(watchAll);
addEventListener('resize', fitResult);
"""

# Gradio mounts each component as its code arrives, so the page grows piece by piece and
# everything below the header jumps several times. The body of the page stays invisible (its
# room is kept) until its controls are there and the page has been still for a moment; then
# it shows at once. A few seconds at most, whatever happens. (Gradio's own loading sign would
# drift down the growing page meanwhile: it is left out; the header, drawn with the HTML, shows.)
READY_JS = """
const showPage = () => {
  document.documentElement.classList.add('page-ready');
  building.disconnect();
};
const PARTS = ['#prompt textarea', '#generate', '#run-status-box .run-status',
               '#cost-estimate .cost-estimate', '#width input', '#ratio input',
               '#inspirations tbody tr', '#history .hist-empty, #history .hist-grid'];
let still;
const building = new MutationObserver(() => {
  clearTimeout(still);
  still = setTimeout(() => {
    if (PARTS.every((part) => document.querySelector(part))) showPage();
  }, 150);
});
building.observe(document.documentElement, {childList: true, subtree: true});
setTimeout(showPage, 4000);
"""

HEAD = """<style>html:not(.page-ready) :is(#main, #main ~ *, footer) { visibility: hidden; }
html:not(.page-ready) .gradio-container > .main > .wrap.full { display: none !important; }
</style><script>
""" + READY_JS + AFTER_CHANGES_JS + A11Y_JS + FIT_JS + """
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
  if (!event.target.closest || !event.target.closest('#prompt')) return;
  event.preventDefault();
  const button = document.querySelector('#generate');
  if (button && !button.disabled) button.click();
}, true);
</script>"""


# The header is plain HTML in the page itself (studio/gradio_patches.py puts it there), not a
# Gradio component: it is drawn the moment the page arrives, while Gradio's code still builds
# the rest. Its styles come with it, for the same reason; colours are the theme's, once loaded.
# It lines up with Gradio's container below (as wide as Gradio 6.31's breakpoints allow, with
# 32 px inside), and paints the theme's background edge to edge.
HEADER_STYLE = """<style>
#page-head { --column: 100%; box-sizing: border-box; width: 100%;
  padding: 16px max(32px, 50% - var(--column) / 2 + 32px) 0;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--body-text-color, inherit);
  background: var(--body-background-fill, transparent); }
@media (width >= 640px) { #page-head { --column: 640px; } }
@media (width >= 768px) { #page-head { --column: 768px; } }
@media (width >= 1024px) { #page-head { --column: 1024px; } }
@media (width >= 1280px) { #page-head { --column: 1280px; } }
@media (width >= 1536px) { #page-head { --column: 1536px; } }
@media (width >= 1920px) { #page-head { --column: 1920px; } }
#page-head h1 { font-size: 26px; font-weight: 600; line-height: 1.3; margin: 0 0 2px; }
#page-head p { margin: 16px 0; line-height: 1.625; }
.mode-banner { padding: 8px 12px; border-radius: var(--radius-lg, 8px); font-weight: 600;
  color: var(--body-text-color, inherit); border: 1px solid var(--border-color-primary, #e4e4e7);
  border-left: 6px solid var(--color-accent, #f97316);
  background: color-mix(in srgb, var(--color-accent, #f97316) var(--status-tint, 12%),
                        var(--background-fill-primary, transparent)); }
.mode-banner.live { border-left-color: var(--primary-500, #f97316);
  background: color-mix(in srgb, var(--primary-500, #f97316) var(--status-tint, 12%),
                        var(--background-fill-primary, transparent)); }
</style>"""


def header(simulator: bool, bring_your_own_key: bool) -> str:
    """The page's title, what it does, and which mode it runs in."""
    if simulator:
        kind, text = "simulator", SIMULATOR_NOTICE
    elif bring_your_own_key:
        kind, text = "live", ("Live, bring your own key: runs are charged to the Wiro key you "
                              "paste below.")
    else:
        kind, text = "live", "Live: calls Wiro's API (each run is charged to the configured key)."
    return (HEADER_STYLE + f'<header id="page-head"><h1>{html.escape(spec.MODEL_TITLE)} on '
            "Wiro</h1><p>Black Forest Labs' image model: generate from a prompt, or edit and "
            "combine up to 8 reference images.</p>"
            f'<div class="mode-banner {kind}" id="mode-banner" role="note">'
            f"{html.escape(text)}</div></header>")
