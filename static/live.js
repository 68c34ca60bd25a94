// Live dashboard: replaces each section with the server-rendered (escaped) markup received
// over Server-Sent Events. Without JavaScript the page still works; it is just not live.
(() => {
  const root = document.getElementById('dashboard');
  if (!root || !window.EventSource) return;
  const source = new EventSource(root.dataset.events);
  source.addEventListener('sections', (event) => {
    const sections = JSON.parse(event.data);
    for (const [id, markup] of Object.entries(sections)) {
      const el = document.getElementById(id);
      if (el && el.innerHTML !== markup) el.innerHTML = markup;
    }
    root.dataset.updated = String(Date.now());
  });
})();
