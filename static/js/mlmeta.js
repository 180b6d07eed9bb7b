// Small behaviours of the frame, without inline handlers (CSP-friendly).
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("select[data-autosubmit]")) el.form.submit();
  if (el.matches("input[data-check-all]")) {
    document.querySelectorAll(`input[name="${el.dataset.checkAll}"]`).forEach((box) => { box.checked = el.checked; });
  }
});
document.addEventListener("submit", (event) => {
  const skip = event.submitter && event.submitter.hasAttribute("data-no-confirm"); // e.g. "Compare selected"
  const message = skip ? null : event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// Menus of the top bar (details/summary): Escape closes the open one, a click elsewhere too.
document.addEventListener("keydown", (event) => {
  const menu = event.key === "Escape" && event.target.closest && event.target.closest("details.menu[open]");
  if (!menu) return;
  menu.open = false;
  menu.querySelector("summary").focus();
});
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.open = false;
  });
});
