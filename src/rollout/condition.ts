// `success_condition` / `failure_condition`: a tiny expression language over one number, `result`,
// parsed once (the spec is refused when it does not parse) and evaluated without eval().
//   result < 0.05        result >= 0.95 && result <= 1.05        (result > 2 || result < 0)

type Node =
  | { kind: 'num'; value: number }
  | { kind: 'result' }
  | { kind: 'cmp'; op: Op; left: Node; right: Node }
  | { kind: 'and' | 'or'; left: Node; right: Node };
type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

const TOKEN = /\s*(result|\d+(?:\.\d+)?(?:e[+-]?\d+)?|<=|>=|==|!=|<|>|&&|\|\||\(|\)|-)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected "${text.slice(at).trim().slice(0, 10)}" at position ${at}`);
    tokens.push(m[1] as string);
  }
  return tokens;
}

/** Parses a condition; throws with a message that says what is wrong. */
export function parseCondition(text: string): Node {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const take = () => tokens[i++];
  const operand = (): Node => {
    const t = take();
    if (t === 'result') return { kind: 'result' };
    if (t === '-' && peek() !== undefined && /^\d/.test(peek()!)) return { kind: 'num', value: -Number(take()) };
    if (t !== undefined && /^\d/.test(t)) return { kind: 'num', value: Number(t) };
    throw new Error(t === undefined ? 'unexpected end: expected result or a number' : `unexpected "${t}": expected result or a number`);
  };
  const primary = (): Node => {
    if (peek() === '(') {
      take();
      const inner = or();
      if (take() !== ')') throw new Error('missing ")"');
      return inner;
    }
    const left = operand();
    const op = take();
    if (!op || !['<', '<=', '>', '>=', '==', '!='].includes(op)) throw new Error(`expected a comparison (<, <=, >, >=, ==, !=) after ${left.kind === 'result' ? 'result' : 'a number'}`);
    return { kind: 'cmp', op: op as Op, left, right: operand() };
  };
  const and = (): Node => {
    let left = primary();
    while (peek() === '&&') {
      take();
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === '||') {
      take();
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (tokens.length === 0) throw new Error('empty condition');
  const node = or();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}" after a complete condition`);
  if (!mentionsResult(node)) throw new Error('the condition never looks at result');
  return node;
}

function mentionsResult(n: Node): boolean {
  if (n.kind === 'result') return true;
  if (n.kind === 'num') return false;
  return mentionsResult(n.left) || mentionsResult(n.right);
}

function value(n: Node, result: number): number {
  if (n.kind === 'num') return n.value;
  if (n.kind === 'result') return result;
  throw new Error('not a value');
}

function evaluate(n: Node, result: number): boolean {
  switch (n.kind) {
    case 'and':
      return evaluate(n.left, result) && evaluate(n.right, result);
    case 'or':
      return evaluate(n.left, result) || evaluate(n.right, result);
    case 'cmp': {
      const [a, b] = [value(n.left, result), value(n.right, result)];
      return n.op === '<' ? a < b : n.op === '<=' ? a <= b : n.op === '>' ? a > b : n.op === '>=' ? a >= b : n.op === '==' ? a === b : a !== b;
    }
    default:
      return false;
  }
}

/** Evaluates a condition (already validated by the spec) for one measured value. */
export function holds(condition: string, result: number): boolean {
  return evaluate(parseCondition(condition), result);
}
