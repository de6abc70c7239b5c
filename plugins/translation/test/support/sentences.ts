const SUBJECTS = ["dog", "cat", "teacher", "child", "farmer", "doctor", "student", "bird", "woman", "man"];
const VERBS = ["sees", "likes", "eats", "finds", "wants", "buys", "paints", "reads"];
const OBJECTS = ["apple", "book", "house", "car", "letter", "table", "river", "garden", "bread", "chair"];
const PLACES = [
  "in the morning",
  "in the city",
  "in the park",
  "in the kitchen",
  "at school",
  "in the evening",
];

/** `count` distinct, simple English sentences Apertium translates well. */
export function sentences(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const subject = SUBJECTS[i % SUBJECTS.length];
    const verb = VERBS[Math.floor(i / SUBJECTS.length) % VERBS.length];
    const object = OBJECTS[Math.floor(i / (SUBJECTS.length * VERBS.length)) % OBJECTS.length];
    const place = PLACES[Math.floor(i / (SUBJECTS.length * VERBS.length * OBJECTS.length)) % PLACES.length];
    out.push(`The ${subject} ${verb} the ${object} ${place}.`);
  }
  return out;
}
