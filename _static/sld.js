/* The book's own script (_config.yml html_js_files): show which boxes scroll sideways.
   A display equation or table wider than its box scrolls in that box (_static/sld.css). Phones
   and many desktops hide scrollbars until one scrolls, so nothing would tell a reader that the
   second half of an equation exists. Boxes that overflow get the class sld-scroll-right and/or
   sld-scroll-left (CSS draws a soft shadow on that edge) and, if nothing inside them can take
   the keyboard focus, tabindex="0" so that they can be scrolled with the arrow keys. */
(function () {
  "use strict";
  const SELECTOR = 'mjx-container[display="true"], .pst-scrollable-table-container';

  function update(el) {
    const overflow = el.scrollWidth - el.clientWidth > 1;
    el.classList.toggle("sld-scroll-left", overflow && el.scrollLeft > 1);
    el.classList.toggle("sld-scroll-right",
      overflow && el.scrollLeft + el.clientWidth < el.scrollWidth - 1);
    if (overflow && !el.hasAttribute("tabindex") && !el.querySelector("a[href], button, [tabindex]")) {
      el.setAttribute("tabindex", "0");
    }
  }

  function updateAll() {
    document.querySelectorAll(SELECTOR).forEach(update);
  }

  function start() {
    document.addEventListener("scroll", (event) => {
      const el = event.target;
      if (el instanceof Element && el.matches(SELECTOR)) update(el);
    }, true);
    window.addEventListener("resize", updateAll);
    updateAll();
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(updateAll);
    // MathJax may load after this script; check again once everything has loaded
    window.addEventListener("load", () => {
      updateAll();
      const m = window.MathJax;
      if (m && m.startup && m.startup.promise) m.startup.promise.then(updateAll);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
