// A link inside a toast: the frontend's toast API takes text only, so once our toast is on the page its message
// element gets a button that opens the batch in the tab. When the element cannot be found (another toast
// component), the toast simply stays text.

const TRIES = 10;

function findMessage(detail) {
  const candidates = document.querySelectorAll(".p-toast-message, [data-pc-section=message], [role=alert]");
  for (const el of candidates) {
    if (el.dataset.batchgenLink) continue;
    if (el.textContent && el.textContent.includes(detail)) return el;
  }
  return null;
}

/** Add a button labelled label to the toast showing detail; onClick runs when it is pressed. */
export function linkToast(detail, label, onClick) {
  let tries = 0;
  const attempt = () => {
    const message = findMessage(detail);
    if (!message) {
      if (++tries < TRIES) setTimeout(attempt, 100);
      return;
    }
    message.dataset.batchgenLink = "1";
    const text = message.querySelector(".p-toast-message-text, [data-pc-section=messagetext]") || message;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "batchgen-toast-link";
    button.textContent = label;
    button.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
    text.append(button);
  };
  setTimeout(attempt, 0);
}
