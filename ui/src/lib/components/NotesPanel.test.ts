import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { createApi, type InvokeFn } from '../api';
import { t } from '../i18n/en';
import type { Note } from '../types';
import NotesPanel from './NotesPanel.svelte';

const NOTE: Note = { appointment: 7, saved_at: '2026-11-29T14:00:00Z', text: 'Saved earlier', version: 3 };

/** An invoke whose `note_get` answers only when the test says so. */
function setup() {
  let answer!: (n: Note | null) => void;
  let fail!: (e: unknown) => void;
  const got = new Promise<Note | null>((res, rej) => {
    answer = res;
    fail = rej;
  });
  const saves: string[] = [];
  const invoke: InvokeFn = vi.fn(async (cmd: string, args?: Record<string, unknown>) => {
    if (cmd === 'note_get') return got;
    if (cmd === 'note_save') {
      saves.push(String(args?.text));
      return NOTE.version + saves.length;
    }
    throw new Error(`unexpected ${cmd}`);
  });
  render(NotesPanel, { api: createApi(invoke), appointment: 7, delayMs: 10 });
  return { answer, fail, saves, user: userEvent.setup() };
}

describe('NotesPanel', () => {
  it('is read-only until the saved note has loaded, then edits and saves a new version', async () => {
    const { answer, saves, user } = setup();
    const box = screen.getByTestId('notes-text') as HTMLTextAreaElement;
    expect(box.readOnly).toBe(true);
    expect(screen.getByTestId('notes-status').textContent).toBe(t.notes.loading);
    await user.type(box, 'typed too early');
    expect(box.value).toBe('');
    answer(NOTE);
    await waitFor(() => expect(box.value).toBe('Saved earlier'));
    expect(box.readOnly).toBe(false);
    await user.type(box, ', then more');
    await waitFor(() => expect(saves).toEqual(['Saved earlier, then more']));
    await waitFor(() => expect(screen.getByTestId('notes-status').textContent).toBe(t.notes.saved(4)));
  });

  it('never replaces a note it could not read with a blank one', async () => {
    const { fail, saves, user } = setup();
    fail({ code: 'internal', message: 'database busy' });
    await waitFor(() => expect(screen.getByTestId('notes-status').textContent).toBe(t.notes.loadFailed));
    const box = screen.getByTestId('notes-text') as HTMLTextAreaElement;
    expect(box.readOnly).toBe(true);
    await user.type(box, 'overwrite');
    box.dispatchEvent(new Event('blur'));
    await new Promise((r) => setTimeout(r, 50));
    expect(saves).toEqual([]);
  });
});
