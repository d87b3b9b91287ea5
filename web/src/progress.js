// The learner's progress, kept in localStorage under racelab:progress as
//
//   {"lessons": {"<slug>": {"visited": true, "cells": {"<cell id>": true}}}}
//
// A lesson page marks itself visited and each cell that is run; the index
// shows a check mark and a count beside each lesson.

import { load, save } from './storage.js';

export const progressKey = 'racelab:progress';

function isObject(v) {
  return v != null && typeof v === 'object' && !Array.isArray(v);
}

// read returns the stored progress, repaired into the expected shape.
export function readProgress() {
  const p = load(progressKey);
  if (!isObject(p) || !isObject(p.lessons)) return { lessons: {} };
  return p;
}

function update(slug, change) {
  if (!slug) return;
  const p = readProgress();
  let lesson = p.lessons[slug];
  if (!isObject(lesson)) lesson = p.lessons[slug] = {};
  if (!isObject(lesson.cells)) lesson.cells = {};
  change(lesson);
  save(progressKey, p);
}

// markVisited records that the lesson's page was opened.
export function markVisited(slug) {
  update(slug, (l) => { l.visited = true; });
}

// markCellRun records that a cell of the lesson was run.
export function markCellRun(slug, cell) {
  update(slug, (l) => {
    l.visited = true;
    l.cells[cell] = true;
  });
}

// showProgress fills in the .lesson-progress of every [data-lesson] item
// of the index.
export function showProgress(root) {
  const p = readProgress();
  for (const item of root.querySelectorAll('.lesson-item[data-lesson]')) {
    const lesson = p.lessons[item.dataset.lesson];
    const out = item.querySelector('.lesson-progress');
    if (!isObject(lesson) || !out) continue;
    const total = Number(out.dataset.cells) || 0;
    const run = Math.min(total, isObject(lesson.cells) ? Object.keys(lesson.cells).length : 0);
    item.classList.toggle('is-visited', Boolean(lesson.visited) || run > 0);
    item.classList.toggle('is-done', total > 0 && run === total);
    out.dataset.run = String(run);
    out.textContent = total > 0 ? `${run} of ${total} cells run` : 'visited';
    out.title = run === total && total > 0 ? 'every cell run' : 'visited';
  }
}
