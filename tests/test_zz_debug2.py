import pytest
pytest_plugins = ["tests.app_harness"]

@pytest.mark.parametrize("n", range(16))
def test_stop_seq(page, app_sim, live_app, n):
    page.evaluate("""() => { window.__seen = [];
      const box = document.querySelector('#run-status-box');
      new MutationObserver(() => { const e = box.querySelector('.run-status');
        if (e) { const t = e.dataset.kind + '|' + e.innerText.replace(/\\s+/g,' ').replace(/[0-9.]+ s$/, '').slice(0,90);
          if (window.__seen[window.__seen.length-1] !== t) window.__seen.push(t); } })
        .observe(box, {subtree: true, childList: true, characterData: true, attributes: true}); }""")
    app_sim.hold_running = n % 2 == 1
    app_sim.hold_in_queue = n % 2 == 0
    page.click("#ref-clear")
    page.click("#generate")
    page.wait_for_selector("#run-status-box .run-status[data-status=%s]" % ("task_output" if n % 2 else "task_queue"))
    page.click("#stop")
    page.wait_for_timeout(3000)
    seen = page.evaluate("window.__seen")
    i = max(i for i, s in enumerate(seen) if s.startswith("running|Task") and "cancelled" not in s) if any(s.startswith("running|Task") for s in seen) else 0
    print("\nRUN", n, seen[i:])
