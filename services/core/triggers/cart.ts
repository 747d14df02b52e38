/**
 * The cart a `context: cart` rule reports: add_to_cart adds a product, remove_from_cart removes
 * it, purchase empties the cart. Applied in arrival order. Pure; mutates the working state.
 */
import type { BehaviorEvent } from '../types';
import { CART_MAX_ITEMS } from './limits';
import type { CartState } from './state';
import { keepableValue } from './stored-values';

const CART_EVENT_TYPES: readonly string[] = ['add_to_cart', 'remove_from_cart', 'purchase'];

/** True when the event changes a tracked cart. */
export function isCartEvent(event: BehaviorEvent): boolean {
  return CART_EVENT_TYPES.includes(event.type);
}

/** Applies a cart event to the cart. */
export function applyCartEvent(cart: CartState, event: BehaviorEvent): void {
  if (event.type === 'purchase') {
    cart.items = [];
    cart.lastAdded = null;
    return;
  }
  // Commas separate ids in the trigger context, so an id containing one cannot be listed.
  const productId = keepableValue(event.product_id);
  if (productId === null || productId.includes(',')) return;
  cart.items = cart.items.filter((item) => item !== productId);
  if (event.type === 'add_to_cart') {
    cart.items.push(productId);
    if (cart.items.length > CART_MAX_ITEMS) cart.items.splice(0, cart.items.length - CART_MAX_ITEMS);
    cart.lastAdded = productId;
  } else if (cart.lastAdded === productId) {
    cart.lastAdded = cart.items.at(-1) ?? null;
  }
}

/** The context fields of a cart: its product ids, comma-separated, and the last added product. */
export function cartContext(cart: CartState | null): Record<string, string> {
  const context: Record<string, string> = { cart_product_ids: (cart?.items ?? []).join(',') };
  if (cart?.lastAdded) context['product_id'] = cart.lastAdded;
  return context;
}
