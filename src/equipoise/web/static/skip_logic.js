// Skip logic of a case report form: a field asked only after an earlier answer (data-asked-if names that field,
// data-asked-values the answers that ask it) is enabled when the answer holds. The server checks it again on save;
// without this script the page still works (a save draws the form again with the field enabled).
document.querySelectorAll("[data-asked-if]").forEach(function (item) {
  var source = item.getAttribute("data-asked-if");
  var values = JSON.parse(item.getAttribute("data-asked-values"));
  var form = item.closest("form");
  function answer() {
    var checked = form.querySelector('input[name="' + source + '"]:checked');
    if (checked) { return checked.value; }
    var plain = form.querySelector('input[name="' + source + '"]:not([type=radio]), select[name="' + source + '"]');
    return plain ? plain.value.trim() : "";
  }
  function update() {
    var asked = values.indexOf(answer()) >= 0;
    item.querySelectorAll("fieldset, input, select").forEach(function (el) {
      if (el.closest("[data-asked-if]") === item && !el.hasAttribute("form")) { el.disabled = !asked; }
    });
    item.classList.toggle("not-asked", !asked);
  }
  form.addEventListener("change", update);
});
