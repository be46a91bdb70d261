// The console's one script, progressive enhancement only: every page works without it. On a page with a
// [data-refresh] part (the overview) it fetches the page again every 10 s and swaps that part in place, with a
// pause toggle, as WCAG 2.2.2 asks of content that updates by itself: one "Pause updates" button whose
// aria-pressed tells whether updates are paused (a toggle's label must not change with its state). A round is
// skipped while the tab is hidden or keyboard focus is inside the part, so a refresh never takes focus away.

const REFRESH_MS = 10_000;
const RUNNING = 'Updates every 10 seconds.';

function startRefresh() {
  const controls = document.querySelector('[data-refresh-controls]');
  if (document.querySelector('[data-refresh]') === null || controls === null) return;

  let paused = false;
  const state = document.createElement('span');
  state.className = 'muted';
  state.textContent = RUNNING;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Pause updates';
  button.setAttribute('aria-pressed', 'false');
  button.addEventListener('click', () => {
    paused = !paused;
    button.setAttribute('aria-pressed', String(paused));
    state.textContent = paused ? 'Paused.' : RUNNING;
  });
  controls.append(button, state);

  const refresh = async () => {
    const current = document.querySelector('[data-refresh]');
    if (paused || document.hidden || current === null || current.contains(document.activeElement)) return;
    try {
      const response = await fetch(window.location.href, { headers: { accept: 'text/html' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = page.querySelector('[data-refresh]');
      if (fresh === null) throw new Error('the page has no [data-refresh] part');
      current.replaceWith(document.adoptNode(fresh));
      state.textContent = RUNNING;
    } catch (error) {
      state.textContent = `Update failed (${error instanceof Error ? error.message : String(error)}); retrying.`;
    }
  };
  window.setInterval(() => void refresh(), REFRESH_MS);
}

startRefresh();
