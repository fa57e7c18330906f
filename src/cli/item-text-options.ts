/** `--item-text FILE [--item-text-cols a,b]`: new items a text model scores by their text (recommend, embed, serve). */
import { Command } from 'commander';
import { ItemTextFile } from '../train/catalogue.js';
import { nameListOption } from './options.js';

export interface ItemTextFlags {
  itemText?: string;
  itemTextCols?: string[];
}

/** Adds the two options; `what` says what the items are for in this command. */
export function withItemTextOptions(command: Command, what: string): Command {
  return command
    .option('--item-text <file>', `text model: a table of items (an item column and text columns) ${what}, by their text alone`)
    .option('--item-text-cols <names>', 'text columns of --item-text, joined in this order (default: all but the item column)', nameListOption('item-text-cols'));
}

export function itemTextFile(f: ItemTextFlags): ItemTextFile | undefined {
  return f.itemText ? { file: f.itemText, ...(f.itemTextCols ? { columns: f.itemTextCols } : {}) } : undefined;
}
