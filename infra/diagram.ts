/**
 * Draws a state machine definition (ASL, as synthesized) as a Mermaid flowchart, so the picture in
 * the docs is made from the same definition that is deployed and run locally, never by hand.
 */
type State = {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<Record<string, unknown> & { Next: string }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Retry?: Array<{ ErrorEquals: string[] }>;
  ItemProcessor?: Definition;
  Iterator?: Definition;
  ItemsPath?: string;
};
type Definition = { StartAt: string; States: Record<string, State>; ProcessorConfig?: { Mode?: string } };

const id = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');

function shape(name: string, state: State): string {
  const label = state.Retry ? `${name} ↻` : name;
  switch (state.Type) {
    case 'Choice':
      return `${id(name)}{"${label}"}`;
    case 'Succeed':
    case 'Fail':
      return `${id(name)}(["${label}"])`;
    case 'Pass':
      return `${id(name)}["${label}"]`;
    default:
      return `${id(name)}["${label}"]`;
  }
}

/** "$.verification.outcome == RECOPY" from a Choice rule. */
function condition(rule: Record<string, unknown>): string {
  const variable = String(rule.Variable ?? '').replace(/^\$\./, '');
  const operator = Object.keys(rule).find((k) => k !== 'Variable' && k !== 'Next');
  if (!operator) return variable;
  const value = rule[operator];
  return operator.endsWith('Equals') ? `${variable} = ${String(value)}` : `${variable} ${operator} ${String(value)}`;
}

function draw(definition: Definition, lines: string[], indent: string): void {
  for (const [name, state] of Object.entries(definition.States)) {
    const processor = state.ItemProcessor ?? state.Iterator;
    if (state.Type === 'Map' && processor) {
      // A Distributed Map runs each item as a child execution, with a history of its own.
      const each = processor.ProcessorConfig?.Mode === 'DISTRIBUTED' ? 'a child execution for each item' : 'for each item';
      lines.push(`${indent}subgraph ${id(name)}["${name}: ${each} of ${state.ItemsPath ?? '$'}"]`);
      lines.push(`${indent}  direction TB`);
      draw(processor, lines, `${indent}  `);
      lines.push(`${indent}end`);
    } else {
      lines.push(`${indent}${shape(name, state)}`);
    }
  }
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Next) lines.push(`${indent}${id(name)} --> ${id(state.Next)}`);
    for (const rule of state.Choices ?? []) lines.push(`${indent}${id(name)} -->|"${condition(rule)}"| ${id(rule.Next)}`);
    if (state.Default) lines.push(`${indent}${id(name)} -->|otherwise| ${id(state.Default)}`);
    for (const c of state.Catch ?? []) lines.push(`${indent}${id(name)} -.->|"${c.ErrorEquals.join(', ')}"| ${id(c.Next)}`);
  }
}

export function stateMachineMermaid(definition: Definition): string {
  const lines = ['flowchart TD', `  start((start)) --> ${id(definition.StartAt)}`];
  draw(definition, lines, '  ');
  return `${lines.join('\n')}\n`;
}
