// A stand-in for the node of a <canvas type="2d">: getContext('2d') answers an object with
// exactly the methods and properties of a standard CanvasRenderingContext2D (what WeChat's
// canvas 2d gives), recording every call. A chart library that relied on the old
// wx.createCanvasContext API (setFillStyle, draw, ...) would throw here, as it would on a phone.

const METHODS = [
  'arc', 'arcTo', 'beginPath', 'bezierCurveTo', 'clearRect', 'clip', 'closePath',
  'createImageData', 'createLinearGradient', 'createPattern', 'createRadialGradient',
  'drawImage', 'ellipse', 'fill', 'fillRect', 'fillText', 'getImageData', 'getLineDash',
  'getTransform', 'isPointInPath', 'isPointInStroke', 'lineTo', 'measureText', 'moveTo',
  'putImageData', 'quadraticCurveTo', 'rect', 'resetTransform', 'restore', 'rotate', 'save',
  'scale', 'setLineDash', 'setTransform', 'stroke', 'strokeRect', 'strokeText', 'transform',
  'translate'
]

function createContext2D() {
  const calls = []
  const ctx = {
    calls,
    font: '10px sans-serif',
    fillStyle: '#000000',
    strokeStyle: '#000000',
    lineWidth: 1,
    lineCap: 'butt',
    lineJoin: 'miter',
    textAlign: 'start',
    textBaseline: 'alphabetic',
    globalAlpha: 1,
    shadowBlur: 0,
    shadowColor: 'rgba(0, 0, 0, 0)',
    shadowOffsetX: 0,
    shadowOffsetY: 0
  }
  METHODS.forEach(name => {
    ctx[name] = function () {
      const args = Array.prototype.slice.call(arguments)
      calls.push({ name, args })
      if (name === 'measureText') {
        const m = /(\d+(?:\.\d+)?)px/.exec(ctx.font)
        const size = m ? parseFloat(m[1]) : 10
        return { width: String(args[0]).length * size * 0.6 }
      }
      if (name === 'createLinearGradient' || name === 'createRadialGradient') return { addColorStop() {} }
      if (name === 'getLineDash') return []
      return undefined
    }
  })
  ctx.count = name => calls.filter(c => c.name === name).length
  ctx.texts = () => calls.filter(c => c.name === 'fillText').map(c => String(c.args[0]))
  return ctx
}

// {node, width, height} as utils/chart.js queryCanvas() resolves it (CSS pixels).
function createCanvas(width, height) {
  const ctx = createContext2D()
  const node = {
    width: 300,
    height: 150,
    getContext(type) {
      if (type !== '2d') throw new Error('only 2d is available')
      return ctx
    }
  }
  return { node, width: width || 320, height: height || 240, ctx }
}

module.exports = { createCanvas, createContext2D }
