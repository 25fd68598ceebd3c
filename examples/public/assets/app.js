// Shows which encoding the page's script arrived with.
document.body.insertAdjacentHTML("beforeend", "<p>Script loaded.</p>");
