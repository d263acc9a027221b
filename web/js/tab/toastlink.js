// A link inside a toast: the frontend's toast API takes text only, so once our toast is on the page the element
// showing its detail text gets a button after it that opens the batch in the tab. Found by its exact text, which
// works for PrimeVue's toasts (1.35–1.49) and the newer toast viewport (1.58); when it is not found the toast simply
// stays text.

const TRIES = 10;

function findDetail(detail) {
  for (const el of document.querySelectorAll("div, span, p")) {
    if (el.children.length || el.closest(".batchgen-tab") || el.dataset.batchgenLinked) continue;
    if (el.textContent.trim() === detail) return el;
  }
  return null;
}

/** Add a button labelled label under the toast showing detail; onClick runs when it is pressed. */
export function linkToast(detail, label, onClick) {
  let tries = 0;
  const attempt = () => {
    const target = findDetail(detail);
    if (!target) {
      if (++tries < TRIES) setTimeout(attempt, 100);
      return;
    }
    target.dataset.batchgenLinked = "1";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "batchgen-toast-link";
    button.textContent = label;
    button.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
    target.after(button);
  };
  setTimeout(attempt, 0);
}
