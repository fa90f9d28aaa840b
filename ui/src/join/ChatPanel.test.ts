import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import type { ChatLine, Result } from './chat';
import ChatPanel from './ChatPanel.svelte';
import { t } from './i18n';
import { checkText } from './chat';

function panel(lines: ChatLine[] = [], open = true) {
  const sent: string[] = [];
  const onSend = (text: string): Result<ChatLine> => {
    const bad = checkText(text);
    if (bad) return { ok: false, reason: bad };
    sent.push(text);
    return { ok: true, value: { id: `s${sent.length}`, text, sentAt: 0, from: 'me' } };
  };
  const r = render(ChatPanel, { lines, open, onSend });
  return { ...r, sent, user: userEvent.setup() };
}

describe('ChatPanel', () => {
  it('sends with Enter, keeps Shift+Enter for a new line, and clears the box', async () => {
    const { sent, user } = panel();
    const box = screen.getByLabelText(t.chat.inputLabel);
    await user.type(box, 'Line one{Shift>}{Enter}{/Shift}line two{Enter}');
    expect(sent).toEqual(['Line one\nline two']);
    expect((box as HTMLTextAreaElement).value).toBe('');
  });

  it('refuses a message over 2,000 characters with a clear inline message', async () => {
    const { sent, user } = panel();
    const box = screen.getByTestId('chat-input') as HTMLTextAreaElement;
    box.focus();
    await user.paste('a'.repeat(2003));
    expect(screen.getByTestId('chat-count').textContent).toContain('2003 of 2000');
    await user.click(screen.getByRole('button', { name: t.chat.send }));
    expect(sent).toEqual([]);
    expect(screen.getByRole('alert').textContent).toBe(t.chat.errors.too_long(3));
    expect(box.getAttribute('aria-invalid')).toBe('true');
    expect(box.value).toHaveLength(2003);
  });

  it('lists the conversation and announces the newest incoming message politely', async () => {
    const lines: ChatLine[] = [
      { id: 'a', text: 'How are you?', sentAt: 0, from: 'them' },
      { id: 'b', text: 'Better, thanks', sentAt: 0, from: 'me' },
    ];
    panel(lines);
    const items = screen.getAllByTestId('chat-message');
    expect(items.map((i) => i.dataset.from)).toEqual(['them', 'me']);
    expect(items[1]!.textContent).toContain('Better, thanks');
    const live = screen.getByTestId('chat-announce');
    expect(live.getAttribute('aria-live')).toBe('polite');
    expect(live.textContent).toBe(t.chat.newMessage('How are you?'));
  });

  it('disables sending until the channel is open', () => {
    panel([], false);
    expect((screen.getByRole('button', { name: t.chat.send }) as HTMLButtonElement).disabled).toBe(true);
  });
});
