// Small Svelte actions shared by the screens.

/** Moves keyboard focus to the element when it mounts (a lint-clean `autofocus`). */
export function focusOnMount(node: HTMLElement, enabled: boolean = true): void {
  if (enabled) queueMicrotask(() => node.focus());
}
