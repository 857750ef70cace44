/**
 * Writes the tutorial notebooks notebooks/01…07 (Japanese first, English alongside). They follow
 * the article's order: GAP → CAM → Grad-CAM → guided backprop → your own model, then the CAM
 * family after Grad-CAM (06) and how to measure an explanation (07), on the built-in models, offline.
 * Regenerate after changing the cells: node -r ts-node/register scripts/make-tutorial.ts
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeNotebook, ROOT } from './jupyter';

// Choosing the backend first keeps every tensor on it (and says which one runs).
// Cells spell out object shorthand ({ model: model }): tslab 1.0.22 rewrites a name declared in an
// earlier cell everywhere except inside a shorthand property, where it is then undefined.
const IMPORT = 'import * as tc from "..";\nconst backend = await tc.initBackend();\nconsole.log(`tfjs ${backend.tfjsVersion} on the ${backend.name} backend (${backend.reason})`);';
const SAMPLE = (name: string, v: string) => `const ${v} = tc.builtinSamples().find((s) => s.name === "${name}")!;`;

/**
 * The methods notebook 06 compares side by side. LEAD: add the gradient family (gradCamPlusPlus,
 * xGradCam, hiResCam, layerCam, eigenCam, …) here when merging i12a-gradfamily.
 */
export const FAMILY_06: readonly string[] = ['gradCam', 'gradCamPlusPlus', 'xGradCam', 'hiResCam', 'layerCam', 'eigenCam', 'scoreCam', 'ablationCam', 'fullGrad', 'randomCam', 'guidedBackprop'];

export const TUTORIAL: Record<string, string[]> = {
  '01-gap.ipynb': [
    `%md
# 01 · Global Average Pooling (GAP)

**日本語** — 畳み込み層が出力する特徴マップ $f_k(x,y)$ を、そのまま全結合層へ渡す (Flatten) 代わりに、チャンネルごとに平均して 1 つの数 $F_k$ にまとめるのが GAP です。記事では和で書かれていますが、Keras / TensorFlow.js の \`GlobalAveragePooling2D\` は平均を取るので、このライブラリでは
$$F_k = \\frac{1}{Z}\\sum_{x,y} f_k(x,y), \\qquad Z = \\sum_{x,y} 1$$
と書きます(定数 $Z$ の違いは後の式で $w_k^c$ に吸収されます)。

**English** — Instead of flattening the last feature maps $f_k(x,y)$ into a long vector, GAP averages each channel into one number $F_k$. The article writes a sum; Keras' layer takes the mean, so here $F_k$ is the mean and the factor $Z$ (the number of positions) appears explicitly in later equations.`,
    `%md
ライブラリは 1 行で読み込めます。組み込みモデル \`digits-gap\`(畳み込み → GAP → Dense)は、MNIST の実際の手書き数字を置いたシーンで学習済みです。

One line imports the library. The built-in \`digits-gap\` model (conv blocks → GAP → Dense) was trained on scenes made from real MNIST digits.`,
    IMPORT,
    'const model = await tc.loadModel("builtin:digits-gap");\nconsole.table(tc.listLayers(model).map((l) => ({ name: l.name, class: l.className, output: l.outputShape.slice(1).join("×"), params: l.params })));',
    `${SAMPLE('single-digit', 'sample')}\nconst x = await tc.loadImage(sample.path, { model: model });\nconsole.log(sample.description, "→ input", x.shape.join("×"));\ntc.image({ data: x.dataSync() as Float32Array, shape: x.shape.slice(1) }, { title: "input" })`,
    `%md
## GAP を計算する / Computing GAP

\`tc.gap\` は最後の畳み込みブロックの出力 $f$ と、その各チャンネルの平均 $F_k$ を返します。モデル自身の GAP 層の出力も一緒に読み出すので、下の検査(恒等式 1)で両者が一致することを数値で確かめられます。

\`tc.gap\` returns the last block's feature maps $f$ and their channel means $F_k$, and also reads the model's own GAP layer, so identity 1 below compares the two on the real numbers.`,
    'const g = tc.gap(model, x);\ng',
    'tc.verify(g)',
    'console.log("F (first 8):", Array.from(g.F.slice(0, 8), (v) => v.toFixed(4)).join(", "));\nconsole.log("model\'s GAP (first 8):", Array.from(g.modelF!.slice(0, 8), (v) => v.toFixed(4)).join(", "));',
    `%md
## パラメータ数 / Parameter count

GAP の利点の一つはパラメータの少なさです。同じ畳み込み部を持つ \`digits-fc\`(Flatten → Dense → Dense)と比べてみましょう。

GAP's head needs far fewer weights than a Flatten head. Compare with \`digits-fc\`, which has the same kind of conv blocks but flattens them.`,
    'const flat = await tc.loadModel("builtin:digits-fc");\nconst headParams = (m: tc.tf.LayersModel) => tc.listLayers(m).filter((l) => l.className === "Dense").reduce((s, l) => s + l.params, 0);\nconsole.log(`digits-gap: Dense head ${headParams(model)} parameters (of ${model.countParams()})`);\nconsole.log(`digits-fc : Dense head ${headParams(flat)} parameters (of ${flat.countParams()})`);',
  ],
  '02-cam.ipynb': [
    `%md
# 02 · Class Activation Map (CAM)

**日本語** — GAP の後の全結合層は、クラス $c$ のスコアを $S_c = \\sum_k w_k^c F_k + b_c$ と計算します(ソフトマックスやシグモイドの前の値)。$F_k$ は $f_k$ の平均なので、和の順序を入れ替えると
$$S_c = \\frac{1}{Z}\\sum_{x,y} \\underbrace{\\sum_k w_k^c f_k(x,y)}_{M_c(x,y)} + b_c$$
となり、位置ごとの寄与 $M_c(x,y)$ が CAM です。

**English** — After GAP, the Dense layer scores class $c$ as $S_c = \\sum_k w_k^c F_k + b_c$ (before softmax/sigmoid). Since $F_k$ averages $f_k$, swapping the sums gives the map $M_c(x,y) = \\sum_k w_k^c f_k(x,y)$, whose average plus $b_c$ is exactly $S_c$: each position's share of the score.`,
    IMPORT,
    `const model = await tc.loadModel("builtin:digits-gap");\n${SAMPLE('single-digit', 'sample')}\nconst x = await tc.loadImage(sample.path, { model: model });`,
    'const c = tc.cam(model, x);\nc',
    `%md
重み $w_k^c$ の大きい特徴マップほど $M_c$ に強く効きます。特徴マップを $w_k^c$ の順に並べて見てみましょう。

Feature maps with large $w_k^c$ dominate $M_c$; here they are ordered by $w_k^c$, with the weights as bars.`,
    'tc.featureMaps(c)',
    `%md
## 恒等式の検査 / Checking the identities

(1) $F_k$ とモデルの GAP 層、(2) $\\sum_k w_k^c F_k + b_c = S_c$、(3) $\\frac{1}{Z}\\sum_{x,y} M_c + b_c = S_c$ を実際の数値で確かめます。

Identities 1–3 on the real numbers.`,
    'tc.verify(c)',
    'let sumM = 0;\nfor (const v of c.M.data) sumM += v;\nconsole.log(`S_c = ${c.S.toFixed(5)};  Σ M_c / Z + b_c = ${(sumM / c.Z + c.b).toFixed(5)}  (Z = ${c.Z}, b_c = ${c.b.toFixed(5)})`);',
    `%md
## クラスごとの地図 / One map per class

2 つの数字が写ったシーンで、それぞれのクラスの CAM を計算します。各クラスの地図は自分の数字の上で明るくなるはずです(ドロップダウンで切り替え)。

A scene with two digits: the CAM of each class should light up its own digit (switch with the dropdown).`,
    `${SAMPLE('two-digits', 'two')}\nconst x2 = await tc.loadImage(two.path, { model: model });\nconst both = tc.tf.concat([x2, x2]);\nconst perClass = tc.explain(model, both, { method: "cam", classIndex: [...two.labels] });\nperClass`,
    'tc.makeDisplayable(perClass.flatMap((r) => tc.verify(r)))',
  ],
  '03-gradcam.ipynb': [
    `%md
# 03 · Grad-CAM

**日本語** — CAM は GAP → Dense という構造がないと使えません($w_k^c$ が存在しない)。Grad-CAM は重みの代わりに勾配を使います:
$$\\alpha_k^c = \\frac{1}{Z}\\sum_{x,y}\\frac{\\partial S_c}{\\partial f_k(x,y)}, \\qquad L_c = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c f_k\\Big)$$
GAP → Dense のモデルでは $\\partial S_c / \\partial f_k(x,y) = w_k^c / Z$ なので $\\alpha_k^c Z = w_k^c$、つまり $L_c Z = \\mathrm{ReLU}(M_c)$:Grad-CAM は CAM の一般化です。

**English** — CAM needs the GAP → Dense head. Grad-CAM replaces $w_k^c$ by gradient weights $\\alpha_k^c$. On a GAP model the gradient is exactly $w_k^c/Z$, so $\\alpha_k^c Z = w_k^c$ and $L_c Z = \\mathrm{ReLU}(M_c)$; on any other CNN Grad-CAM still works.`,
    IMPORT,
    `const model = await tc.loadModel("builtin:digits-gap");\n${SAMPLE('single-digit', 'sample')}\nconst x = await tc.loadImage(sample.path, { model: model });`,
    'const gc = tc.gradCam(model, x);\ngc',
    `%md
## CAM と一致することの確認 / Grad-CAM equals CAM here

恒等式 4($\\alpha_k^c Z = w_k^c$、$L_c Z = \\mathrm{ReLU}(M_c)$)と 5($\\alpha_k^c$ を有限差分で検算)。

Identity 4 (Grad-CAM = CAM on a GAP model) and identity 5 ($\\alpha_k^c$ against finite differences of $S_c$).`,
    'tc.verify(gc, { model: model, image: x })',
    'const c = tc.cam(model, x);\nconsole.log("α·Z (first 6):", Array.from(gc.alpha.slice(0, 6), (a) => (a * gc.Z).toFixed(5)).join(", "));\nconsole.log("w^c (first 6):", Array.from(c.w.slice(0, 6), (w) => w.toFixed(5)).join(", "));',
    `%md
## GAP のないモデル / A model without GAP

\`digits-fc\` は特徴マップを Flatten するので CAM は定義できません。ライブラリはその理由を説明するエラーを返します。Grad-CAM はそのまま動きます。

\`digits-fc\` flattens its feature maps, so CAM is undefined there: the library says why. Grad-CAM still works.`,
    'const fc = await tc.loadModel("builtin:digits-fc");\ntry {\n  tc.cam(fc, x);\n} catch (e) {\n  console.log((e as Error).message);\n}',
    'const gcFc = tc.gradCam(fc, x);\ngcFc',
    'tc.verify(gcFc, { model: fc, image: x })',
    `%md
## 層を変える / Changing the layer

浅い層ほど解像度は高く、意味は弱くなります。スライダーで層を切り替えます。

Earlier layers have finer maps and weaker semantics; the slider switches the target layer.`,
    'const layers = tc.listLayers(model).filter((l) => l.spatial && l.className === "ReLU").map((l) => l.name);\ntc.layerSlider(layers.map((layer) => tc.gradCam(model, x, { layer: layer })))',
    `%md
## クラスの識別 / Class discrimination

2 つの数字のシーンで、クラスごとの Grad-CAM がそれぞれの数字を指すことを両方のモデルで見ます。

On a two-digit scene, each class's Grad-CAM points at its own digit, on both models.`,
    `${SAMPLE('two-digits', 'two')}\nconst x2 = await tc.loadImage(two.path, { model: model });\nconst both = tc.tf.concat([x2, x2]);\ntc.explain(model, both, { classIndex: [...two.labels] })`,
    'tc.explain(fc, both, { classIndex: [...two.labels] })',
  ],
  '04-guided-gradcam.ipynb': [
    `%md
# 04 · Guided Backpropagation と Guided Grad-CAM

**日本語** — Grad-CAM の地図は粗い(最後の畳み込み層の解像度)ので、入力画素の細かさを持つ guided backpropagation と掛け合わせます。guided backpropagation は入力に対する勾配ですが、ReLU を逆伝播するとき「順伝播の入力が正」かつ「戻ってくる勾配が正」の所だけを通します:
$$R^{(l)} = \\big(f^{(l)} > 0\\big)\\cdot\\big(R^{(l+1)} > 0\\big)\\cdot R^{(l+1)}$$
Guided Grad-CAM はその結果と、入力サイズへ双線形補間した $L_c$ の要素ごとの積です。

**English** — Grad-CAM maps are coarse; guided backpropagation has pixel detail. It is the input gradient with every ReLU passing gradient back only where its forward input and the incoming gradient are both positive. Guided Grad-CAM multiplies it by $L_c$ upsampled bilinearly to the input size.`,
    IMPORT,
    `const model = await tc.loadModel("builtin:digits-gap");\n${SAMPLE('heavy-clutter', 'sample')}\nconst x = await tc.loadImage(sample.path, { model: model });\nconsole.log(sample.description);`,
    'const gb = tc.guidedBackprop(model, x);\ngb',
    'const ggc = tc.guidedGradCam(model, x);\nggc',
    `%md
## 比較 / Side by side

入力、CAM、Grad-CAM、guided backprop、guided Grad-CAM を並べます。

Input, CAM, Grad-CAM, guided backprop and guided Grad-CAM in one row.`,
    'tc.comparison({ cam: tc.cam(model, x, { classIndex: ggc.classIndex }), gradCam: ggc.gradCam, guided: gb, guidedGradCam: ggc })',
    `%md
## 記事の道筋をまとめて / The whole path at once

\`tc.walkthrough\` は記事の順番(特徴マップ → GAP → スコア → CAM → Grad-CAM → guided backprop → guided Grad-CAM)で各ステップの式・数値・図・検査をまとめます。\`wt.step(n)\` で 1 ステップずつ表示できます。

\`tc.walkthrough\` gathers every step in the article's order, with its equation, numbers, figure and checks; \`wt.step(n)\` shows one step.`,
    'const wt = tc.walkthrough(model, x);\nwt',
    'wt.step(4)',
    'wt.step(5)',
    'console.log(wt.allPassed ? "every identity of the walkthrough passed" : "an identity FAILED");',
  ],
  '05-your-model.ipynb': [
    `%md
# 05 · 自分のモデルで / Your own model

**日本語** — モデルの持ち込み方は 3 通りです。どれも \`tc.loadModel(パスまたは URL)\` で読み込めます(\`model.json\` かそのフォルダ、または URL。指定した URL だけを読みます)。

1. **Keras → 変換 → loadModel**: \`tensorflowjs_converter --input_format keras model.h5 out_dir\`(Keras 3 の \`.keras\` も同じ)で layers モデルに変換します。Keras 3 の model.json も読めます。層の名前は Keras のままです。
2. **TF Hub / SavedModel → graph モデル**: \`tensorflowjs_converter --input_format tf_saved_model saved_dir out_dir\` や TF Hub の変換済み URL は graph モデル(\`tf.GraphModel\`)になります。層の代わりにノード名(例 \`StatefulPartitionedCall/model/conv5/Relu\`)で対象を選びます。\`tc.listLayers(graph)\` がノードと形を示し、既定はプーリング直前の最後の空間特徴マップです。制御フロー(ループ・条件分岐)や勾配のない演算が途中にあると、そのノード名を示すエラーになります。
3. **このノートブックで作った・学習したモデル**: 下のセルのように \`tc.tf\` で作り、そのまま渡すか \`tc.saveModel\` で保存します。

**合わせるべき版**: tslab-cam は自分の \`@tensorflow/tfjs\`(4.22)で動きます。ノートブックのフォルダに別の版の \`@tensorflow/tfjs\` を入れてそれでモデルを作ると、そのモデルは使えません(両方の版と直し方を示すエラーになります)。\`import { tf } from "tslab-cam"\`(または \`tc.tf\`)を使うか、\`npm install @tensorflow/tfjs@4.22.0\` で版を揃えます。変換器も同じ 4.22 系を使ってください。

**English** — There are three routes in, all through \`tc.loadModel(path or URL)\` (model.json or its folder, or a URL; only the URL you give is fetched):

1. **Keras → converter → loadModel**: \`tensorflowjs_converter --input_format keras model.h5 out_dir\` (a Keras 3 \`.keras\` file likewise) gives a layers model; Keras 3 model.json files load too. Layer names stay Keras's.
2. **TF Hub / SavedModel → graph model**: \`tensorflowjs_converter --input_format tf_saved_model saved_dir out_dir\`, and TF Hub's converted URLs, give a graph model (\`tf.GraphModel\`). Node names (e.g. \`StatefulPartitionedCall/model/conv5/Relu\`) take the place of layer names; \`tc.listLayers(graph)\` lists them with shapes, and the default is the last spatial feature map before the pooling. A loop, a conditional or an op without a gradient on the way gets an error naming the node.
3. **A model built or trained in this notebook**: build it with \`tc.tf\` as below and pass it as it is, or save it with \`tc.saveModel\`.

**Versions that must agree**: tslab-cam runs on its own \`@tensorflow/tfjs\` (4.22). A model built with another version installed in the notebook's folder cannot be used (the error names both versions and the fix): use \`import { tf } from "tslab-cam"\` (or \`tc.tf\`), or \`npm install @tensorflow/tfjs@4.22.0\` there. Convert with the matching converter (tensorflowjs 4.22).

\`\`\`ts
const hub = await tc.loadModel("https://example.com/path/to/graph/model.json"); // a tf.GraphModel
const keras = await tc.loadLayersModel("./converted/model.json");               // when you know it is a layers model
\`\`\`

\`tc.loadModel\` returns a \`tf.LayersModel\` or a \`tf.GraphModel\` depending on the file; \`tc.loadLayersModel\` / \`tc.loadGraphModel\` accept one kind and say so otherwise. To run offline, this notebook builds a small model, saves it, and loads it back.`,
    IMPORT,
    `const tf = tc.tf;\nconst input = tf.input({ shape: [64, 64, 3] });\nlet h = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same", activation: "relu", name: "my_conv1" }).apply(input) as tc.tf.SymbolicTensor;\nh = tf.layers.maxPooling2d({ poolSize: 2, name: "my_pool" }).apply(h) as tc.tf.SymbolicTensor;\nh = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu", name: "my_conv2" }).apply(h) as tc.tf.SymbolicTensor;\nh = tf.layers.globalAveragePooling2d({ name: "my_gap" }).apply(h) as tc.tf.SymbolicTensor;\nconst out = tf.layers.dense({ units: 3, activation: "softmax", name: "my_scores" }).apply(h) as tc.tf.SymbolicTensor;\nconst mine = tf.model({ inputs: input, outputs: out });\nconst saved = await tc.saveModel(mine, "./my-model");\nconsole.log("saved", saved.modelJson, saved.totalBytes, "bytes");`,
    'const loaded = await tc.loadLayersModel("./my-model/model.json");\nconsole.table(tc.listLayers(loaded).map((l) => ({ name: l.name, class: l.className, output: l.outputShape.slice(1).join("×") })));\nconsole.log("default target layer:", tc.findTargetLayer(loaded).name);',
    `%md
## 層の選び方 / Choosing the layer

層を指定しなければ、分類ヘッドの手前で最後の空間的な特徴マップ(4 次元の出力)が選ばれます。名前を間違えると近い名前が提案されます。

Without \`layer\`, the last spatial feature map before the head is used. A mistyped name gets the closest valid names.`,
    'try {\n  tc.gradCam(loaded, tf.zeros([64, 64, 3]), { layer: "my_conv" });\n} catch (e) {\n  console.log((e as Error).message);\n}',
    `%md
## 自分の画像 / Your image

\`tc.loadImage\` は PNG / JPEG のパス、URL、バイト列を受け取り、モデルの入力サイズに合わせます。ここでは同梱のサンプル画像を「自分の画像」として使います。ソフトマックスの前のスコアを説明します(飽和したソフトマックスでは勾配が消えるため)。

\`tc.loadImage\` takes a PNG/JPEG path, URL or bytes and resizes it for the model. The scores explained are the ones before softmax, which keep their gradient even where the softmax saturates.`,
    `const file = tc.builtinSamples()[1].path;\nconst img = await tc.loadImage(file, { model: loaded });\nconst mineGc = tc.gradCam(loaded, img, { layer: "my_conv2" });\nmineGc`,
    'tc.verify(mineGc, { model: loaded, image: img })',
    'tc.explain(loaded, tf.concat([img, img, img]), { classIndex: [0, 1, 2], layer: "my_conv1" })',
  ],
  '06-cam-family.ipynb': [
    `%md
# 06 · Grad-CAM のあとの CAM たち / The CAM family after Grad-CAM

**日本語** — Grad-CAM のあと、チャネルの重み $\\alpha_k^c$ の決め方を変えた手法がたくさん提案されました。どれも地図は $L = \\mathrm{ReLU}(\\sum_k \\alpha_k^c f_k)$ の形で、違いは重みだけです。勾配を使わずに順伝播だけで重みを決める手法(Score-CAM, Ablation-CAM)、バイアスまで含めて勾配を完全に分解する FullGrad、そして比較の床となるランダムな重みを見ます。GAP モデルでは、それぞれがどんな式に帰着するかを数値で確かめます(\`tc.verify\`)。

**English** — After Grad-CAM came many methods that change only how the channel weights $\\alpha_k^c$ are found; the map keeps the form $L = \\mathrm{ReLU}(\\sum_k \\alpha_k^c f_k)$. Here: weights from forward passes only (Score-CAM, Ablation-CAM), FullGrad's complete split of the score into input and bias parts, and random weights as the floor every metric must beat. On the GAP model each reduces to a closed form, checked on the numbers with \`tc.verify\`.`,
    IMPORT,
    `const model = await tc.loadModel("builtin:digits-gap");\n${SAMPLE('single-digit', 'sample')}\nconst x = await tc.loadImage(sample.path, { model: model });\nconsole.log(sample.description);`,
    `%md
## Grad-CAM(おさらい / recap)

$$\\alpha_k^c = \\frac{1}{Z}\\sum_{x,y}\\frac{\\partial S_c}{\\partial f_k(x,y)}$$

GAP モデルでは $\\partial S_c/\\partial f_k(x,y) = w_k^c/Z$ なので $\\alpha_k^c Z = w_k^c$(恒等式 4)。 / On the GAP model $\\alpha_k^c Z = w_k^c$ (identity 4).`,
    'const gc = tc.gradCam(model, x);\ntc.verify(gc, { model: model, image: x })',
    `%md
## 勾配で重みを変える手法 / Methods that reweight the gradient

GAP モデルでは $\\partial S_c/\\partial f_k(x,y) = w_k^c/Z$ がどこでも同じなので、どの手法も CAM の量で閉じた式になります(恒等式 6–10):

- XGrad-CAM(Fu et al. 2020): $\\alpha_k = \\sum_{x,y} \\frac{f_k}{\\sum f_k}\\frac{\\partial S_c}{\\partial f_k}$ → $L\\,Z = \\mathrm{ReLU}(M_c)$(Grad-CAM と同じ)
- HiResCAM(Draelos & Carin 2020): $\\mathrm{ReLU}(\\sum_k \\frac{\\partial S_c}{\\partial f_k} \\odot f_k)$ → $L\\,Z = \\mathrm{ReLU}(M_c)$
- LayerCAM(Jiang et al. 2021): $\\sum_k \\mathrm{ReLU}(\\frac{\\partial S_c}{\\partial f_k}) \\odot f_k$ → $L\\,Z = \\sum_k \\mathrm{ReLU}(w_k^c) f_k$
- Grad-CAM++(Chattopadhyay et al. 2018): $\\alpha_k = \\frac{\\mathrm{ReLU}(w)\\,w^2}{w^2(2 + w F_k) + \\varepsilon Z^2}$(pytorch-grad-cam の $\\varepsilon = 10^{-6}$ 込み)

On the GAP model every gradient method has a closed form in CAM's quantities (identities 6–10); \`tc.verify\` checks each on these numbers. Eigen-CAM (Muhammad & Yeasin 2020) needs no gradient: it projects $f$ on its first principal component (sign fixed so the map correlates positively with the mean activation).`,
    'const family = ["xGradCam", "hiResCam", "layerCam", "gradCamPlusPlus"].map((m) => tc.explain(model, x, { method: m, classIndex: gc.classIndex })[0]);\ntc.makeDisplayable(family.flatMap((r) => tc.verify(r, { model: model, image: x })))',
    'tc.eigenCam(model, x)',
    `%md
## Score-CAM (Wang et al. 2020)

$$H_k = \\frac{\\mathrm{up}(f_k) - \\min}{\\max - \\min},\\qquad \\alpha_k^c = \\operatorname{softmax}_k\\, S_c(X \\odot H_k)$$

各特徴マップを入力サイズへ拡大して 0–1 に正規化したマスク $H_k$ で入力を覆い、そのスコアをチャネル方向にソフトマックスしたものが重みです。勾配は使わず、$K$ 回の順伝播(まとめて実行)だけです。pytorch-grad-cam と同じく、拡大は角をそろえる双線形補間(align_corners=True)です。GAP モデルでも閉じた式はありません(マスクした入力は特徴マップを非線形に変えるため)。

Each feature map, upsampled and min-max scaled, masks the input; the masked input's score, softmaxed over channels, is the weight. No gradient: $K$ forward passes, batched (\`batchSize\` overrides; \`signal\` cancels; \`onProgress\` reports count, rate and ETA). No closed form even on the GAP model: masking the input changes the feature maps non-linearly.`,
    'const sc = tc.scoreCam(model, x, { classIndex: gc.classIndex, onProgress: (p) => { if (p.done === p.total) console.log(`${p.label}: ${p.detail}, ${p.rate.toFixed(0)} ${p.unit}/s`); } });\nsc',
    `%md
## Ablation-CAM (Desai & Ramaswamy 2020)

$$\\alpha_k^c = \\frac{S_c - S_c^{k}}{S_c}$$

チャネル $k$ を消したときにスコアがどれだけ下がるか。消す値は pytorch-grad-cam と同じで、活性の最小値が 0 なら 0、そうでなければ最小値 − 1e7 です。対象層より上の部分だけを再計算します。GAP モデルでは $S_c^k = S_c - w_k^c (F_k - v)$ なので
$$\\alpha_k^c S_c = w_k^c (F_k - v)$$
($v = 0$ なら $\\alpha_k^c = w_k^c F_k / S_c$、バイアス $b_c$ は両方のスコアにあるので消えます)。恒等式 11 で確かめます。

The weight is the share of the score lost when channel $k$ is ablated (to 0 when the activation's minimum is 0, else to min − 1e7, as pytorch-grad-cam does); only the layers above the target re-run. On the GAP model $\\alpha_k^c S_c = w_k^c (F_k - v)$: identity 11.`,
    'const ab = tc.ablationCam(model, x, { classIndex: gc.classIndex });\nconsole.log("ablation value v =", ab.ablationValue);\nab',
    'tc.verify(ab, { model: model, image: x })',
    `%md
## FullGrad (Srinivas & Fleuret 2019)

区分線形なネットワークでは、スコアは入力の寄与とすべてのバイアスの寄与にちょうど分かれます(完全性):
$$S_c = x\\cdot\\nabla_x S_c + \\sum_l b^l\\cdot\\nabla_{b^l} S_c$$
BatchNorm は推論時にはアフィン変換で、そのバイアスは $\\beta - \\gamma\\mu/\\sqrt{\\sigma^2+\\epsilon}$ です。地図は入力勾配×入力と、各畳み込み・BatchNorm 層のバイアス勾配マップを、チャネルごとに正規化して足したものです。恒等式 12 で完全性を確かめます。

For a piecewise-linear network the score splits exactly into the input's part and every bias's part (completeness; BatchNorm's affine part counts as a bias). The map sums the input-gradient × input and every conv/BatchNorm layer's bias-gradient maps, each channel scaled on its own. Identity 12 checks completeness.`,
    'const fg = tc.fullGrad(model, x, { classIndex: gc.classIndex });\nconsole.log("input part", fg.completeness.inputTerm.toFixed(4), "+ bias part", fg.completeness.biasTerm.toFixed(4), "= S_c", fg.S.toFixed(4));\nfg',
    'tc.verify(fg, { model: model, image: x })',
    `%md
## Random-CAM: 床 / the floor

$\\alpha_k \\sim \\mathcal{U}(-1, 1)$。説明ではありません。どの評価指標も、これと区別できなければ説明を測っていません。

Random channel weights: not an explanation, but the baseline a metric must tell apart from the real methods.`,
    'tc.randomCam(model, x, { seed: 1 })',
    `%md
## 並べて比べる / Side by side

2 つの数字のシーンで、手法ごとの地図を並べます。ドロップダウンでクラスを切り替え、マウスを重ねると値が見えます。同じ層を使う勾配手法は 1 回のパスを共有します。

On the two-digit scene, one panel per method; the dropdown switches the class, hover shows the value. Gradient methods on one layer share one engine pass.`,
    `${SAMPLE('two-digits', 'two')}\nconst x2 = await tc.loadImage(two.path, { model: model });\ntc.compareMethods(model, x2, { methods: ${JSON.stringify(FAMILY_06)}, classIndex: [...two.labels] })`,
  ],
  '07-measuring.ipynb': [
    `%md
# 07 · よい説明ときれいな説明 / A good explanation or a pretty one?

**日本語** — 見た目がもっともらしい地図が、モデルを説明しているとは限りません。この章では地図を**数値で**測ります。

- **位置の正しさ**(ポインティングゲーム、エネルギー、Grad-CAM 論文の局在化): 地図は正解の数字を指しているか。
- **忠実さ**(Average Drop、Increase in Confidence、削除/挿入曲線、ROAD): 地図が重要と言う画素を消すと、本当にスコアが下がるか。
- **健全性チェック**(Adebayo ら 2018): モデルの重みを壊しても地図が変わらないなら、その地図はモデルを説明していない。

**English** — A plausible-looking map need not explain the model. This notebook measures maps: *localisation* (does the map point at the digit?), *faithfulness* (does removing the pixels the map calls important really lower the score?) and the *sanity check* (if the map survives destroying the model's weights, it does not explain the model).`,
    IMPORT,
    'const model = await tc.loadModel("builtin:digits-gap");\nconst samples = tc.eval.heldOutSamples(12);\nconsole.log(samples.length, "held-out scenes; metrics:", tc.eval.metricNames().join(", "));',
    `%md
## 指標の表 / The table

\`tc.evaluate(model, samples, { methods, metrics })\` は 手法 × 指標 の表(平均と 95% 信頼区間)を返します。手法も指標もレジストリから来るので、新しい手法はそのまま測れます。↑ は大きいほど、↓ は小さいほど良い指標です。

\`tc.evaluate\` returns a methods × metrics table (means, 95% confidence intervals). Methods and metrics come from their registries, so a new method is measured with no other change. ↑: higher is better, ↓: lower is better.`,
    'const table = await tc.evaluate(model, samples, { methods: ["cam", "gradCam", "guidedBackprop"], metrics: ["pointing", "energyPointing", "localisationError", "averageDrop", "increaseInConfidence", "deletion", "insertion"], steps: 16 });\ntable',
    'tc.eval.evalBars(table, { title: "digits-gap" })',
    `%md
## 削除曲線 / Deletion and insertion

地図の順に画素を消していく(削除)と、よい地図ほどスコアが早く落ちます(曲線の下の面積が小さい)。逆に何もない画像へ戻していく(挿入)と早く上がります。

Removing pixels in the map's order should drop the score fast (a small area under the deletion curve); putting them back should raise it fast (a large insertion area).`,
    'tc.eval.evalCurves(table, "deletion")',
    'tc.eval.evalCurves(table, "insertion")',
    `%md
## 健全性チェック / The sanity check

モデルのコピーの重みを上の層から 1 層ずつランダムにしていき、各段階で地図を計算し直して元の地図と比べます(スピアマンの順位相関 ρ と SSIM)。ユーザーのモデルは変わりません。比較のため、モデルを一切見ずに入力のエッジだけを返す「きれいな」手法を登録します。

On a copy of the model, randomise the weights from the top layer down, one more layer each stage, recompute the map and compare it with the original (Spearman ρ and SSIM). Your model is never changed. For contrast we register a "pretty" method that never looks at the model: the input's edges.`,
    'tc.defineMapMethod({\n  name: "edges", label: "Edges (ignores the model)", latex: "E = |\\\\nabla I|", paper: "none: a method that fails on purpose", needs: "forward",\n  batch: (ctx) => tc.tf.tidy(() => {\n    const grey = ctx.images.mean(-1, true) as tc.tf.Tensor4D;\n    const [n, H, W] = grey.shape;\n    const dx = tc.tf.sub(grey.slice([0, 0, 1, 0], [n, H, W - 1, 1]), grey.slice([0, 0, 0, 0], [n, H, W - 1, 1])).abs().pad([[0, 0], [0, 0], [0, 1], [0, 0]]);\n    const dy = tc.tf.sub(grey.slice([0, 1, 0, 0], [n, H - 1, W, 1]), grey.slice([0, 0, 0, 0], [n, H - 1, W, 1])).abs().pad([[0, 0], [0, 1], [0, 0], [0, 0]]);\n    const small = tc.tf.image.resizeBilinear(tc.tf.add(dx, dy) as tc.tf.Tensor4D, [ctx.pass.f.shape[1], ctx.pass.f.shape[2]]);\n    return tc.tf.unstack(small).map((t) => t.dataSync() as Float32Array);\n  }),\n  map: (p) => ({ map: p.extra as Float32Array, parts: {} }),\n});\nconsole.log(tc.methodNames().join(", "));',
    'const sanity = await tc.eval.sanityCheck(model, samples.slice(0, 6), { methods: ["edges", "gradCam", "guidedBackprop"] });\nsanity',
    'for (const c of sanity.curves) console.log(c.verdict);',
    `%md
**読み方 / Reading it** — 「Edges」は重みを全部壊しても ρ ≈ 1 のまま: きれいでも説明ではありません。Grad-CAM の ρ は最初の段階で大きく下がります。Guided backprop は上の層を壊しても ρ が高く残る傾向があり(Adebayo らの指摘)、全層を壊してようやく下がります。表の \`sanity\` 指標は全層をランダムにしたときの ρ です。

"Edges" keeps ρ ≈ 1 with every weight destroyed: pretty, but not an explanation. Grad-CAM's ρ falls at the first stage. Guided backprop tends to keep a high ρ while the top layers are destroyed (as Adebayo et al. found) and falls only when the lower ones go too. The table's \`sanity\` metric is ρ with every layer randomised.`,
    'const full = await tc.evaluate(model, samples.slice(0, 6), { methods: ["edges", "gradCam"], metrics: ["pointing", "deletion", "sanity"], steps: 16 });\nfull',
  ],
};

if (require.main === module) {
  for (const [name, cells] of Object.entries(TUTORIAL)) {
    fs.writeFileSync(path.join(ROOT, 'notebooks', name), JSON.stringify(makeNotebook(cells), null, 1) + '\n');
    console.log('wrote notebooks/' + name);
  }
}
