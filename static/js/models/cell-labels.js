// A table's column names copied onto its cells (data-label), so that on a narrow screen,
// where each row is stacked and the header row is hidden, every value keeps its label.

export function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    if (row.cells.length !== names.length) continue; // a details row spans them all
    [...row.cells].forEach((cell, index) => {
      if (names[index]) cell.dataset.label = names[index];
    });
  }
}
