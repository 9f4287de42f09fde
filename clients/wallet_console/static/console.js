// Enhancements only: every page works without this file.
// - a form marked data-once disables its button once submitted (the idempotency key makes a repeat harmless anyway);
// - "Load more" appends the next page of history in place;
// - the customer page follows the customer's events (server-sent events) and refreshes its figures
//   (the history too, unless more of it was loaded or a Reverse form is open);
// - hovering or focusing a chart bar writes its numbers under the chart.
"use strict";
(function () {
  function disableOnSubmit(form) {
    form.addEventListener("submit", function () {
      var buttons = form.querySelectorAll("button[type=submit]");
      window.setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
    });
  }
  document.querySelectorAll("form[data-once]").forEach(disableOnSubmit);

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  function wireChart(root) {
    var tip = root.querySelector("#chart-tip");
    if (!tip) { return; }
    root.querySelectorAll("svg .bucket").forEach(function (bucket) {
      var show = function () { tip.textContent = bucket.getAttribute("data-words"); };
      bucket.addEventListener("mouseenter", show);
      bucket.addEventListener("focus", show);
    });
  }
  wireChart(document);

  var loadedMore = false;
  function wireLoadMore() {
    var more = document.getElementById("load-more");
    if (!more) { return; }
    more.addEventListener("click", function (event) {
      event.preventDefault();
      loadedMore = true;
      more.setAttribute("aria-busy", "true");
      fetchPage(more.href).then(function (page) {
        var rows = page.getElementById("history-rows");
        var target = document.getElementById("history-rows");
        if (rows && target) {
          Array.from(rows.children).forEach(function (row) {
            target.appendChild(row);
            row.querySelectorAll("form[data-once]").forEach(disableOnSubmit);
          });
        }
        var next = page.getElementById("load-more");
        if (next) { more.href = next.href; more.removeAttribute("aria-busy"); } else { more.parentNode.remove(); }
      });
    });
  }
  wireLoadMore();

  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var pending = null;
  // A section replaced by its fresh copy keeps what is being typed into it (a hold's Capture amount), matched
  // by each input's id, and the focus and cursor: a refresh that emptied the amount would capture all of it.
  function replaceKeepingTyping(old, fresh) {
    old.querySelectorAll("input[id]").forEach(function (input) {
      var twin = fresh.querySelector("#" + CSS.escape(input.id));
      if (twin && input.value !== input.defaultValue) { twin.value = input.value; }
    });
    var focused = document.activeElement;
    var keep = focused && focused.id && old.contains(focused) ? focused : null;
    old.replaceWith(fresh);
    var twin = keep ? document.getElementById(keep.id) : null;
    if (twin) {
      twin.focus();
      if (typeof keep.selectionStart === "number") { twin.setSelectionRange(keep.selectionStart, keep.selectionEnd); }
    }
  }
  function refresh() {
    // Only the figures: forms keep what is being typed, and history already paged past its first page stays.
    fetchPage(window.location.href).then(function (page) {
      ["wallets", "holds", "chart-figure"].forEach(function (id) {
        var fresh = page.getElementById(id), old = document.getElementById(id);
        if (fresh && old) { replaceKeepingTyping(old, fresh); }
      });
      var list = document.getElementById("history-list"), freshList = page.getElementById("history-list");
      // A Reverse form opened (perhaps half filled in) keeps the history as it is.
      var reversing = list && list.querySelector("details.reverse[open]");
      if (!loadedMore && !reversing && list && freshList) {
        list.replaceWith(freshList);
        wireLoadMore();
        freshList.querySelectorAll("form[data-once]").forEach(disableOnSubmit);
      }
      document.querySelectorAll("#holds form[data-once]").forEach(disableOnSubmit);
      wireChart(document);
      live.setAttribute("data-refreshed", String(Date.now()));
    });
  }
  function soon() {
    if (pending) { return; }
    pending = window.setTimeout(function () { pending = null; refresh(); }, 100);
  }
  var source = new EventSource(live.getAttribute("data-live"));
  source.addEventListener("ready", function () {
    live.textContent = "Live: updates as the customer's events commit";
    live.classList.add("on");
    soon();
  });
  source.addEventListener("change", soon);
  source.addEventListener("ended", function () { live.textContent = "Live updates stopped: reload to resume"; live.classList.remove("on"); });
  source.onerror = function () { live.classList.remove("on"); live.textContent = "Reconnecting…"; };
})();
